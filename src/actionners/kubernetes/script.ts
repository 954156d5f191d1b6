// kubernetes:script: runs a shell script in ONE container of the event's pod. The script is sent on the
// shell's standard input (`shell -s`), so nothing is written into the container and no quoting of the
// script is involved. Talon writes it with `tee /tmp/talon-script.sh > /dev/null` in every container (the
// `>` reaching tee as a file name) and runs it in the last one only. Event values in the script (inline or
// from `file`) are inserted shell-quoted; the exit code decides success, as for kubernetes:exec.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { actionVariables } from "../../engine/context.ts";
import { compileTemplate, renderTemplate } from "../../engine/template.ts";
import { errorMessage, KestrelError } from "../../errors.ts";
import { defineActionner } from "../../plugins/define.ts";
import { containerParam, podContainerOf, runShellAction } from "./_container.ts";
import { shellEscaper, unsafeVariableProblems } from "../../engine/shell.ts";
import { POD_REQUIRED_FIELDS } from "./_target.ts";

const params = z.strictObject({
  script: z
    .string()
    .min(1)
    .optional()
    .describe("script to run (use | for several lines); ${VARS} are inserted shell-quoted; not with file"),
  file: z.string().min(1).optional().describe("path of a script on the Kestrel host, read at each run; not with script"),
  shell: z.string().min(1).default("/bin/sh").describe("shell used to run the script"),
  container: containerParam,
});

export default defineActionner({
  category: "kubernetes",
  name: "script",
  description: "Run a script in a container of the pod",
  source: "syscall",
  requiredFields: POD_REQUIRED_FIELDS,
  continueByDefault: true,
  output: "optional",
  permissions: "/pods: get\n/pods/exec: create, get",
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
    if (p.file !== undefined) {
      if (p.file.includes("${")) return [`the file '${p.file}' cannot use variables: an event must not choose what runs`];
      return existsSync(p.file) ? [] : [`the file '${p.file}' does not exist`];
    }
    return unsafeVariableProblems(p.script ?? "", "script");
  },
  templateEscape(path, p) {
    return path.length === 1 && path[0] === "script" && p.script !== undefined ? shellEscaper(p.script) : undefined;
  },
  async preflight(ctx) {
    await podContainerOf(ctx, { requested: ctx.params.container, mustRun: true });
  },
  async run(ctx) {
    const { params: p, signal } = ctx;
    const placement = await podContainerOf(ctx, { requested: p.container, mustRun: true });
    const script = p.script ?? (await scriptFromFile(p.file ?? "", ctx.event, ctx.context, ctx.traceId));
    const stdin = script.endsWith("\n") ? script : `${script}\n`;
    return runShellAction(placement, { command: [p.shell, "-s"], stdin, what: "the script", artifactName: "script.txt", signal });
  },
});

/** The script file, with its ${VARS} replaced (shell-quoted) from the event, as Talon expands the file too. */
async function scriptFromFile(
  file: string,
  event: Parameters<typeof actionVariables>[0],
  context: Readonly<Record<string, string>>,
  traceId: string,
): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new KestrelError("ERR_ACTION", `cannot read the script file '${file}': ${errorMessage(err)}`, { cause: err });
  }
  const problems = unsafeVariableProblems(text, file);
  if (problems.length > 0) throw new KestrelError("ERR_ACTION", problems.join("; "));
  const template = compileTemplate(text);
  return template === undefined ? text : renderTemplate(template, actionVariables(event, context, traceId), shellEscaper(text));
}
