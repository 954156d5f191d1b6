// Runs a program on the Kestrel host (Talon's roadmap "shell:command"). The command is an argv list and is
// never run through a shell, so event values substituted into it stay single arguments. When the program
// is a shell given a script with -c, values substituted into that script are shell-quoted. The event (with
// its context) is written to the program's standard input as JSON; its stdout is the action's artifact.
import { spawn } from "node:child_process";
import { basename } from "node:path";
import { z } from "zod";
import { KestrelError } from "../../errors.ts";
import { eventToJSON } from "../../events/fields.ts";
import { shellEscaper, unsafeVariableProblems } from "../../engine/shell.ts";
import { defineActionner } from "../../plugins/define.ts";

const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ash", "ksh", "busybox"]);

const params = z.strictObject({
  command: z
    .array(z.string())
    .min(1, "needs at least the program to run")
    .describe("program and arguments, e.g. [/usr/local/bin/block-ip, \"${FD_RIP}\"]; no shell is involved"),
  stdin: z.enum(["event", "none"]).default("event").describe("event: the Falco event and its context as JSON on stdin"),
  env: z.record(z.string(), z.string()).default({}).describe("environment variables of the program (PATH is inherited)"),
  max_output_bytes: z.number().int().positive().default(65536).describe("stdout kept beyond this is cut"),
});

export default defineActionner({
  category: "local",
  name: "command",
  description: "Run a program on the Kestrel host with the event on its standard input",
  source: "any",
  requiredFields: [],
  continueByDefault: true,
  output: "optional",
  permissions: "whatever the program needs, granted to the Kestrel process (it runs as Kestrel's user)",
  params,
  example: `
- action: Record the alert
  actionner: local:command
  parameters:
    command: ["/usr/bin/logger", "-t", "kestrel", "\${RULE} on \${HOSTNAME}"]
`,
  check(p) {
    const i = scriptIndex(p.command);
    return i === undefined ? [] : unsafeVariableProblems(p.command[i]!, `command[${i}]`);
  },
  templateEscape(path, p) {
    // [sh, -c, script, ...]: a value going into the script must stay data, wherever the script puts it.
    const i = scriptIndex(p.command);
    return path[0] === "command" && i !== undefined && path[1] === i ? shellEscaper(p.command[i]!) : undefined;
  },
  run({ params: p, event, context, signal }) {
    return new Promise((resolve, reject) => {
      const [program, ...args] = p.command as [string, ...string[]];
      const child = spawn(program, args, {
        shell: false,
        signal,
        stdio: [p.stdin === "event" ? "pipe" : "ignore", "pipe", "pipe"],
        env: { PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", ...p.env },
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
        child.stdin.end(`${eventToJSON(event, context)}\n`);
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
          output: `the command '${program}' succeeded`,
          objects: { command: program },
          ...(data.length > 0 ? { artifact: { name: "command-output.txt", contentType: "text/plain", data } } : {}),
        });
      });
    });
  },
});

/** The index of the script in [sh, -c, script, …], when the program is a shell given a script. */
function scriptIndex(command: readonly string[]): number | undefined {
  const i = command.indexOf("-c", 1) + 1;
  return i > 1 && i < command.length && SHELLS.has(basename(command[0] ?? "")) ? i : undefined;
}
