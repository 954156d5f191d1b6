// The `kestrel` command line. Each command is a thin action in its own file.
import { Command, Option } from "commander";
import { completionScript } from "./completion.ts";
import { type ListKind, listCommand } from "./list.ts";
import { rulesCheckCommand, rulesPrintCommand } from "./rules.ts";
import { serverCommand } from "./server.ts";
import { ExitError, type GlobalOptions } from "./shared.ts";
import { version, versionCommand } from "./version.ts";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function buildProgram(): Command {
  const program = new Command("kestrel")
    .description("Kestrel, a response engine for Falco: it takes Falco alerts and acts on them through rules")
    .version(version(), "-V, --version")
    .option("-c, --config <file>", "configuration file (default /etc/kestrel/config.yaml when it exists)")
    .option("-r, --rules <file>", "rules file, repeatable; later files append to and override earlier ones", collect)
    .showHelpAfterError();
  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

  program.command("server").description("start the server that receives Falco events").action((_o, cmd: Command) => serverCommand(globals(cmd)));

  const rules = program.command("rules").description("check or print the rules");
  rules
    .command("check")
    .description("validate the rules files; exit 1 with file:line:col diagnostics when invalid")
    .option("--strict", "treat warnings (unknown keys or parameters) as errors")
    .action((o: { strict?: boolean }, cmd: Command) => rulesCheckCommand({ ...globals(cmd), strict: o.strict ?? false }));
  rules.command("print").description("print the rules as merged from every file").action((_o, cmd: Command) => rulesPrintCommand(globals(cmd)));

  for (const kind of ["actionners", "outputs", "notifiers"] as const satisfies readonly ListKind[]) {
    program
      .command(kind)
      .description(`the available ${kind}`)
      .command("list")
      .description(`list the ${kind} with their parameters, permissions and an example`)
      .option("--json", "print JSON")
      .action((o: { json?: boolean }) => listCommand(kind, o));
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
