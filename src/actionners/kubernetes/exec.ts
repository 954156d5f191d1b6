// kubernetes:exec: runs a shell command in ONE container of the event's pod (`shell -c command`). Talon
// runs it in every container in turn and reports only the last one; Kestrel runs it in the chosen
// container (the `container` parameter, else the event's container, else the first), under the action's
// deadline, and the exit code decides: non-zero is a failure carrying the end of stderr. Event values never
// enter the command's text: it is fixed when the rules load and the values follow it as positional
// parameters (`shell -c SCRIPT kestrel v1 v2…`, template/shell.ts), so a file name such as `/tmp/x; rm -rf /`
// stays one argument. The command's stdout (ANSI codes stripped, as Talon) is the artifact: without an
// output it is appended to the result.
import { z } from "zod";
import { defineActionner } from "../../plugins/define.ts";
import { compileShellScript, scriptValues } from "../../template/shell.ts";
import { containerParam, runningContainer, runShellAction, SHELL_ACTIONNER, shellProblems } from "./_container.ts";

const params = z.strictObject({
  command: z
    .string()
    .min(1, "must not be empty")
    .describe("command run by the shell (shell -c command); ${VARS} reach it as data (positional parameters), never as shell code"),
  shell: z.string().min(1).default("/bin/sh").describe("shell used to run the command"),
  container: containerParam,
});

export default defineActionner({
  category: "kubernetes",
  name: "exec",
  ...SHELL_ACTIONNER,
  description: "Exec a command in a container of the pod",
  params,
  example: `
- action: Exec a command into the pod
  actionner: kubernetes:exec
  parameters:
    shell: /bin/bash
    command: "cat \${FD_NAME}"
`,
  check(p) {
    return shellProblems(p.shell, p.command, "command");
  },
  verbatim(path) {
    return path.length === 1 && path[0] === "command";
  },
  preflight: runningContainer,
  async run(ctx, placement) {
    const { params: p, signal } = ctx;
    const { script } = compileShellScript(p.command);
    const values = scriptValues(script, ctx.variables);
    const command = [p.shell, "-c", script.text, ...(values.length > 0 ? ["kestrel", ...values] : [])];
    return runShellAction(placement, { command, what: "the command", artifactName: "exec.txt", signal });
  },
});
