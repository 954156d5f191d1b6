// kubernetes:script: runs a shell script in ONE container of the event's pod. The script is sent on the
// shell's standard input (`shell -s`), so nothing is written into the container and no quoting of the
// script is involved. Talon writes it with `tee /tmp/talon-script.sh > /dev/null` in every container (the
// `>` reaching tee as a file name) and runs it in the last one only. Event values never enter the script's
// text (inline or from `file`): they follow it as positional parameters (`shell -s -- v1 v2…`,
// template/shell.ts); the exit code decides success, as for kubernetes:exec.
import { existsSync } from "node:fs";
import { z } from "zod";
import { errorMessage, KestrelError } from "../../errors.ts";
import { FileError, readRegularFile, readRegularFileSync } from "../../files.ts";
import { defineActionner } from "../../plugins/define.ts";
import { actionVariables } from "../../template/action-variables.ts";
import { compileShellScript, type ShellScript, scriptValues } from "../../template/shell.ts";
import { containerParam, runningContainer, runShellAction, SHELL_ACTIONNER, shellProblems } from "./_container.ts";

const params = z.strictObject({
  script: z
    .string()
    .min(1)
    .optional()
    .describe("script to run (use | for several lines); ${VARS} reach it as data (positional parameters); not with file"),
  file: z.string().min(1).optional().describe("path of a script on the Kestrel host, read at each run; not with script"),
  shell: z.string().min(1).default("/bin/sh").describe("shell used to run the script"),
  container: containerParam,
});

export default defineActionner({
  category: "kubernetes",
  name: "script",
  ...SHELL_ACTIONNER,
  description: "Run a script in a container of the pod",
  params,
  example: `
- action: Run a script into the pod
  actionner: kubernetes:script
  parameters:
    shell: /bin/bash
    script: |
      ps awxuf
      netstat -lpauten
      top -n 1
      cat \${FD_NAME}
`,
  check(p) {
    if (p.script === undefined && p.file === undefined) return ["missing parameter 'script' or 'file'"];
    if (p.script !== undefined && p.file !== undefined) return ["'script' and 'file' parameters can't be set at the same time"];
    if (p.shell.includes("${")) return ["shell: an event value must not choose the shell: write its path literally"];
    if (p.file !== undefined) return scriptFileProblems(p.file, p.shell);
    return shellProblems(p.shell, p.script ?? "", "script");
  },
  verbatim(path) {
    return path.length === 1 && path[0] === "script";
  },
  preflight: runningContainer,
  async run(ctx, placement) {
    const { params: p, signal } = ctx;
    const script = p.script === undefined ? await scriptFromFile(p.file ?? "", p.shell) : compileShellScript(p.script).script;
    // A file's ${VARS} are not among the parameters' templates: their variables are gathered here.
    const values = scriptValues(
      script,
      p.script === undefined ? actionVariables(ctx.event, ctx.contextValues, ctx.traceId) : ctx.variables,
    );
    const stdin = script.text.endsWith("\n") ? script.text : `${script.text}\n`;
    const command = [p.shell, "-s", ...(values.length > 0 ? ["--", ...values] : [])];
    return runShellAction(placement, { command, stdin, what: "the script", artifactName: "script.txt", signal });
  },
});

/** rules check problems of a script `file`: read at each run (Talon's behaviour), and checked now too. */
function scriptFileProblems(file: string, shell: string): string[] {
  if (file.includes("${")) return [`the file '${file}' cannot use variables: an event must not choose what runs`];
  if (!existsSync(file)) return [`the file '${file}' does not exist`];
  try {
    return shellProblems(shell, readRegularFileSync(file).toString("utf8"), file);
  } catch (err) {
    return [`cannot read the script file '${file}': ${err instanceof FileError ? err.reason : errorMessage(err)}`];
  }
}

/** The script file, compiled as an inline script is (Talon expands the file's ${VARS} too). */
async function scriptFromFile(file: string, shell: string): Promise<ShellScript> {
  let text: string;
  try {
    // A regular file under the size cap: a FIFO would hang the action until its deadline.
    text = (await readRegularFile(file)).toString("utf8");
  } catch (err) {
    const reason = err instanceof FileError ? err.reason : errorMessage(err);
    throw new KestrelError("ERR_ACTION", `cannot read the script file '${file}': ${reason}`, { cause: err });
  }
  const problems = shellProblems(shell, text, file);
  if (problems.length > 0) throw new KestrelError("ERR_ACTION", problems.join("; "));
  return compileShellScript(text).script;
}
