// The README's plugin tables are generated from the plugins' declarations (descriptions, notes, parameters
// with their defaults) and must be current, as deploy/rbac.yaml is.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { z } from "zod";
import { README, renderTable, withPluginTables } from "../scripts/plugin-docs.ts";
import { defineNotifier } from "../src/plugins/define.ts";

describe("the README's plugin tables", () => {
  it("are current (regenerate: npm run docs)", () => {
    const committed = readFileSync(README, "utf8");
    assert.equal(committed, withPluginTables(committed));
  });

  it("show defaults and choices, escape |, and leave a machine's default to the description", () => {
    const plugin = defineNotifier({
      name: "demo",
      needs: [],
      description: "Sends | things",
      notes: { behaviour: "One line\nper result.", talon: "Kestrel only" },
      params: z.strictObject({
        url: z.string(),
        format: z.enum(["json", "text"]).default("json"),
        retries: z.number().default(3),
        headers: z.record(z.string(), z.string()).default({}),
        host: z.string().default("this-machine").describe("host name (default: this machine's)"),
      }),
      example: "",
      create: () => ({ send: async () => {} }),
    });
    assert.equal(
      renderTable("notifiers", [plugin]),
      [
        "| notifier | what it sends | settings (defaults) | where Kestrel differs from Talon |",
        "|---|---|---|---|",
        "| `demo` | Sends \\| things. One line per result. | `url` (required), `format` (`json`\\|`text`), `retries` (3), `headers`, `host` | Kestrel only |",
      ].join("\n"),
    );
  });

  it("refuses a README without the markers", () => {
    assert.throws(() => withPluginTables("# no tables\n"), /markers of the actionners table are missing/);
  });
});
