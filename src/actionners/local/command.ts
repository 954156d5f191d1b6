// Runs a program on the Kestrel host (Talon's roadmap "shell:command"). The command is an argv list and is
// never run through a shell, so event values substituted into it stay single arguments. When the program
// is a shell given a script with -c (directly or through env, timeout, nice, busybox…), the script is fixed
// when the rules load and the values follow it as positional parameters (template/shell.ts); an
// interpreter's program text, an awk or sed program, eval-like arguments never hold a value. The event
// (with its context) is written to the program's standard input as JSON; its stdout is the artifact.
import { spawn } from "node:child_process";
import { z } from "zod";
import { KestrelError } from "../../errors.ts";
import { eventToJSON } from "../../events/fields.ts";
import { defineActionner } from "../../plugins/define.ts";
import { commandArgv, compileCommand } from "../../template/shell.ts";
import { compileTemplate, renderTemplate, type Variables } from "../../template/template.ts";

const params = z.strictObject({
  command: z
    .array(z.string())
    .min(1, "needs at least the program to run")
    .describe('program and arguments, e.g. [/usr/local/bin/block-ip, "${FD_RIP}"]; no shell is involved'),
  stdin: z.enum(["event", "none"]).default("event").describe("event: the Falco event and its context as JSON on stdin"),
  env: z
    .record(z.string(), z.string())
    .default({})
    .describe("environment variables of the program (PATH is inherited; PATH, LD_*, BASH_ENV… cannot take ${VARS})"),
  max_output_bytes: z.number().int().positive().default(65536).describe("stdout kept beyond this is cut"),
});

export default defineActionner({
  category: "local",
  name: "command",
  needs: [],
  notes: {
    behaviour: "The program runs from its argv, with no shell; the event and its context go as JSON on stdin.",
    talon: "Kestrel only",
  },
  description:
    "Run a program on the Kestrel host with the event on its standard input. In Kestrel's container image there is no shell: only programs present in the image run (Node scripts with /usr/local/bin/node, or a static binary mounted in)",
  source: "any",
  requiredFields: [],
  continueByDefault: true,
  artifact: "optional",
  permissions: "whatever the program needs, granted to the Kestrel process (it runs as Kestrel's user)",
  params,
  example: `
- action: Record the alert
  actionner: local:command
  parameters:
    command: ["/usr/bin/logger", "-t", "kestrel", "\${RULE} on \${HOSTNAME}"]
`,
  check(p) {
    return [...compileCommand(p.command, p.env, p.stdin === "event").problems];
  },
  verbatim(path) {
    // Rendered in run: the argv's script (if any) must stay as written, and which one it is depends on the
    // argv as written, never on the values.
    return path[0] === "command" || path[0] === "env";
  },
  run({ params: p, event, contextValues, signal, variables }) {
    return new Promise((resolve, reject) => {
      const compiled = compileCommand(p.command, p.env, p.stdin === "event");
      const argv = commandArgv(
        compiled,
        p.command.map((arg, i) => (i === compiled.scriptIndex ? arg : render(arg, variables))),
        variables,
      );
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(p.env)) env[name] = render(value, variables);
      const [program, ...args] = argv as [string, ...string[]];
      const child = spawn(program, args, {
        shell: false,
        signal,
        stdio: [p.stdin === "event" ? "pipe" : "ignore", "pipe", "pipe"],
        env: { PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", ...env },
      });
      const stdout: Buffer[] = [];
      let stdoutSize = 0;
      let stderr = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        if (stdoutSize < p.max_output_bytes) stdout.push(chunk.subarray(0, p.max_output_bytes - stdoutSize));
        stdoutSize += chunk.length;
      });
      child.stderr!.on("data", (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString("utf8");
      });
      if (child.stdin !== null) {
        child.stdin.on("error", () => {}); // the program may exit without reading its input
        child.stdin.end(`${eventToJSON(event, contextValues)}\n`);
      }
      child.on("error", (err) => reject(new KestrelError("ERR_ACTION", `cannot run ${program}: ${err.message}`, { cause: err })));
      child.on("close", (code, sig) => {
        if (code !== 0) {
          const why = sig === null ? `exited with code ${code}` : `was killed by ${sig}`;
          reject(new KestrelError("ERR_ACTION", `${program} ${why}${stderr ? `: ${stderr.trim().slice(-1000)}` : ""}`));
          return;
        }
        const data = Buffer.concat(stdout);
        resolve({
          summary: `the command '${program}' succeeded`,
          objects: { command: program },
          ...(data.length > 0 ? { artifact: { name: "command-output.txt", contentType: "text/plain", data } } : {}),
        });
      });
    });
  },
});

/** A parameter's templates rendered as data. */
function render(text: string, variables: Variables): string {
  const template = compileTemplate(text);
  return template === undefined ? text : renderTemplate(template, variables);
}
