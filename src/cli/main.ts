// The `kestrel` command line. Each command is a thin action in its own file, loaded when it runs: the
// server and the plugins bring the cloud and Kubernetes SDKs, which `version` or `completion` do not need.
import { Argument, Command, Option } from "commander";
import { version } from "../version.ts";
import { completionScript, SHELLS } from "./completion.ts";
import type { ListKind } from "./list.ts";
import { ExitError, type GlobalOptions } from "./shared.ts";
import { versionCommand } from "./version.ts";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function buildProgram(): Command {
  const program = new Command("kestrel")
    .description("Kestrel, a response engine for Falco: it takes Falco alerts and acts on them through rules")
    .version(version(), "-V, --version")
    .option(
      "-c, --config <file>",
      "configuration file (default /etc/kestrel/config.yaml, else /etc/falco-talon/config.yaml, when it exists)",
    )
    .option("-r, --rules <file>", "rules file, repeatable; later files append to and override earlier ones", collect)
    .showHelpAfterError()
    // Every command's --help lists -c and -r, as Talon's "Global Flags" (inherited by the subcommands below).
    .configureHelp({ showGlobalOptions: true });
  // A reader that stops early (`kestrel actionners list | head`) closes the pipe: the output ends there, it
  // is not a crash. The server is left out: its log goes to stdout, and a closed pipe must not skip the drain.
  program.hook("preAction", (_program, action) => {
    if (action.name() === "server") return;
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
      process.exit(process.exitCode ?? 0);
    });
  });
  const globals = (cmd: Command): GlobalOptions => withEnvironment(cmd.optsWithGlobals<GlobalOptions>(), process.env);

  program
    .command("server")
    .description("start the server that receives Falco events")
    .action(async (_o, cmd: Command) => (await import("./server.ts")).serverCommand(globals(cmd)));

  const rules = program.command("rules").description("check or print the rules");
  rules
    .command("check")
    .description("validate the rules files; exit 1 with file:line:col diagnostics when invalid")
    .option("--strict", "treat warnings (unknown keys, parameters and template variables, unconfigured notifiers) as errors")
    .action(async (o: { strict?: boolean }, cmd: Command) =>
      (await import("./rules.ts")).rulesCheckCommand({ ...globals(cmd), strict: o.strict ?? false }),
    );
  rules
    .command("print")
    .description("print the rules as merged from every file")
    .action(async (_o, cmd: Command) => (await import("./rules.ts")).rulesPrintCommand(globals(cmd)));
  rules
    .command("test")
    .description(
      "show what the rules would do with Falco events (JSON, NDJSON or stdin), without doing it; --expect checks it (exit 1 on a difference, 2 on bad input)",
    )
    .argument("[events...]", "event files: one JSON event, a JSON list, or NDJSON (Falco's file_output); - or none: stdin")
    .option("--expect <file>", "YAML expectations: event → rules, actions, notifiers (see examples/expect.yaml)")
    .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
    // Bad usage is bad input: exit 2, as for the other input problems of this command.
    .exitOverride((err) => {
      throw new ExitError(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (events: string[], o: { expect?: string; format: "text" | "json" }, cmd: Command) =>
      (await import("./rules-test.ts")).rulesTestCommand(events, { ...globals(cmd), ...o }),
    );

  for (const kind of ["actionners", "outputs", "notifiers"] as const satisfies readonly ListKind[]) {
    program
      .command(kind)
      .description(`the available ${kind}`)
      .command("list")
      .description(`list the ${kind} with their parameters, permissions and an example`)
      .argument("[names...]", `only these ${kind} (full names such as local:command, or a category such as kubernetes)`)
      .addOption(new Option("--format <format>", "output format").choices(["text", "json"]).default("text"))
      .addOption(new Option("--json", "same as --format json").hideHelp())
      .action(async (names: string[], o: { json?: boolean; format: "text" | "json" }) =>
        (await import("./list.ts")).listCommand(kind, { names, format: o.json === true ? "json" : o.format }),
      );
  }
  program.command("version").description("print the version").action(versionCommand);
  program
    .command("completion")
    .description("print the completion script for a shell: source <(kestrel completion bash)")
    .addArgument(new Argument("[shell]", "the shell (default bash)").choices(SHELLS))
    .addOption(new Option("-s, --shell <shell>", "the shell (the argument is preferred)").choices(SHELLS).hideHelp())
    .action((shell: string | undefined, o: { shell?: string }) => {
      process.stdout.write(completionScript(program, shell ?? o.shell ?? "bash"));
    });
  return program;
}

/** RULES_FILES (Talon's env var for rules_files, comma-separated) when no -r is given: for every command,
 * including those that read no configuration file. */
export function withEnvironment(options: GlobalOptions, env: NodeJS.ProcessEnv): GlobalOptions {
  if (options.rules !== undefined && options.rules.length > 0) return options;
  // As config/schema.ts splitList; not imported, so that `version` and `completion` do not load zod.
  const files = (env["RULES_FILES"] ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  return files.length > 0 ? { ...options, rules: files } : options;
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
