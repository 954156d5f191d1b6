// The `kestrel` command line. Each command is a thin action in its own file, loaded when it runs: the
// server and the plugins bring the cloud and Kubernetes SDKs, which `version` or `completion` do not need.
import { Command, Option } from "commander";
import { completionScript } from "./completion.ts";
import type { ListKind } from "./list.ts";
import { ExitError, type GlobalOptions } from "./shared.ts";
import { version, versionCommand } from "./version.ts";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function buildProgram(): Command {
  const program = new Command("kestrel")
    .description("Kestrel, a response engine for Falco: it takes Falco alerts and acts on them through rules")
    .version(version(), "-V, --version")
    .option("-c, --config <file>", "configuration file (default /etc/kestrel/config.yaml, else /etc/falco-talon/config.yaml, when it exists)")
    .option("-r, --rules <file>", "rules file, repeatable; later files append to and override earlier ones", collect)
    .showHelpAfterError();
  // A reader that stops early (`kestrel actionners list | head`) closes the pipe: the output ends there, it
  // is not a crash. The server is left out: its log goes to stdout, and a closed pipe must not skip the drain.
  program.hook("preAction", (_program, action) => {
    if (action.name() === "server") return;
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
      process.exit(process.exitCode ?? 0);
    });
  });
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

  program.command("server").description("start the server that receives Falco events").action(async (_o, cmd: Command) => (await import("./server.ts")).serverCommand(globals(cmd)));

  const rules = program.command("rules").description("check or print the rules");
  rules
    .command("check")
    .description("validate the rules files; exit 1 with file:line:col diagnostics when invalid")
    .option("--strict", "treat warnings (unknown keys or parameters) as errors")
    .action(async (o: { strict?: boolean }, cmd: Command) => (await import("./rules.ts")).rulesCheckCommand({ ...globals(cmd), strict: o.strict ?? false }));
  rules
    .command("print")
    .description("print the rules as merged from every file")
    .action(async (_o, cmd: Command) => (await import("./rules.ts")).rulesPrintCommand(globals(cmd)));

  for (const kind of ["actionners", "outputs", "notifiers"] as const satisfies readonly ListKind[]) {
    program
      .command(kind)
      .description(`the available ${kind}`)
      .command("list")
      .description(`list the ${kind} with their parameters, permissions and an example`)
      .option("--json", "print JSON")
      .action(async (o: { json?: boolean }) => (await import("./list.ts")).listCommand(kind, o));
  }
  program.command("version").description("print the version").action(versionCommand);
  program
    .command("completion")
    .description("print a shell completion script")
    .addOption(new Option("-s, --shell <shell>").choices(["bash", "zsh"]).default("bash"))
    .action((o: { shell: string }) => {
      process.stdout.write(completionScript(program, o.shell));
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof ExitError) {
      if (err.message !== "") process.stderr.write(`kestrel: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`kestrel: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
