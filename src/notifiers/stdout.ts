// Writes each notification as one line on standard output, JSON (Talon's notification body) or text,
// like Falco's stdout channel. Useful on a laptop and as the quick start's visible result.
import { z } from "zod";
import { defineNotifier } from "../plugins/define.ts";
import { formatLine, lineFormat } from "./_payload.ts";

export default defineNotifier({
  name: "stdout",
  needs: [],
  notes: {
    behaviour: "Talon's notification body, or one text line.",
  },
  description: "Print each result as one line on standard output (JSON or text)",
  params: z.strictObject({
    format: lineFormat,
  }),
  example: `
notifiers:
  stdout:
    format: text
`,
  create(settings, { log }) {
    const out = process.stdout;
    return {
      async send(n) {
        const line = formatLine(n, settings.format);
        if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once("drain", resolve));
      },
      async close() {
        log.debug({ notifier: "stdout" }, "stdout notifier closed");
      },
    };
  },
});
