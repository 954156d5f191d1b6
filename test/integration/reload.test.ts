// Rules reload on a running server: a valid change is in force for the next event; an invalid file, or
// rules that need a notifier that cannot start, leave the previous rules serving, with every problem
// logged and the failure counted; a notifier named for the first time by the new rules is created before
// the swap and delivers.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { RulesReloader } from "../../src/reload.ts";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel } from "../support/kestrel.ts";
import { loggedError } from "../support/logs.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";

const action = (name: string) => `
  actions:
    - action: ${name}
      actionner: local:command
      parameters: { command: ["/bin/true"] }`;

const V1 = `
- rule: Shells
  match: { rules: [Terminal shell in container] }${action("Record shell")}
`;

async function reloads(k: RunningKestrel, result: string): Promise<number> {
  const text = await (await fetch(`${k.url}/metrics`)).text();
  const m = new RegExp(`kestrel_rules_reload_total\\{result="${result}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

async function outcome(k: RunningKestrel, rule: string): Promise<string> {
  const res = await k.post(falcoEvent({ rule }));
  return ((await res.json()) as { result: string }).result;
}

describe("rules reload", () => {
  let kestrel: RunningKestrel;
  let receiver: Receiver;
  let reloader: RulesReloader;
  before(async () => {
    receiver = await startReceiver();
    // unconfigured_notifiers: error: a notifier the new rules name that cannot be created fails the reload
    // (the default, "skip", would start it as a skipped notifier, as Talon does).
    kestrel = await startKestrel({
      rules: V1,
      config: `unconfigured_notifiers: error\nnotifiers:\n  webhook:\n    url: ${receiver.url}/hook\n`,
    });
    reloader = new RulesReloader({
      files: [kestrel.rulesFile],
      app: kestrel.app,
      registries: kestrel.registries,
      log: kestrel.log,
      metrics: kestrel.app.metrics,
    });
  });
  after(async () => {
    reloader.close();
    await kestrel.close();
    await receiver.close();
  });

  it("swaps in valid rules: the next event meets the new rules", async () => {
    assert.equal(await outcome(kestrel, "Read sensitive file untrusted"), "unmatched");
    await writeFile(
      kestrel.rulesFile,
      `${V1}\n- rule: Sensitive files\n  match: { rules: [Read sensitive file untrusted] }${action("Record read")}\n`,
    );
    assert.equal(await reloader.reload("test"), true);
    assert.equal(await outcome(kestrel, "Read sensitive file untrusted"), "queued");
    assert.equal(await outcome(kestrel, "Terminal shell in container"), "queued");
    assert.equal(await reloads(kestrel, "success"), 1);
    assert.ok(kestrel.logs.some((l) => l["msg"] === "rules reloaded" && l["rules"] === 2));
  });

  it("keeps the previous rules when the new file is invalid, and logs every problem with file:line", async () => {
    await writeFile(
      kestrel.rulesFile,
      `- rule: Broken\n  match: { rules: [Terminal shell in container] }\n  actions:\n    - action: X\n      actionner: local:comand\n    - action: Y\n      actionner: kubernetes:label\n      parameters: { labelz: {} }\n`,
    );
    assert.equal(await reloader.reload("test"), false);
    assert.equal(await outcome(kestrel, "Read sensitive file untrusted"), "queued", "the previous rules still serve");
    assert.equal(await reloads(kestrel, "failure"), 1);
    const problems = kestrel.logs.filter((l) => l["msg"] === "rules reload: problem in the rules").map((l) => String(l["diagnostic"]));
    assert.ok(problems.length >= 2, problems.join("\n"));
    assert.ok(
      problems.some((p) => p.startsWith(`${kestrel.rulesFile}:5:`) && p.includes("local:comand")),
      problems.join("\n"),
    );
    assert.ok(
      problems.some((p) => p.includes("labelz")),
      problems.join("\n"),
    );
  });

  it("keeps the previous rules when a notifier the new rules name cannot start", async () => {
    await writeFile(kestrel.rulesFile, `- rule: Page\n  match: { rules: [Terminal shell in container] }\n  notifiers: [pagerduty]\n`);
    assert.equal(await reloader.reload("test"), false);
    assert.ok(
      kestrel.logs.some(
        (l) =>
          l["msg"] === "the new rules cannot be applied: the previous rules stay in force" && /pagerduty.*routing_key/.test(loggedError(l)),
      ),
    );
    assert.equal(await outcome(kestrel, "Read sensitive file untrusted"), "queued");
  });

  it("creates a notifier that the new rules name for the first time, before the swap", async () => {
    await writeFile(
      kestrel.rulesFile,
      `- rule: Hook\n  match: { rules: [Terminal shell in container] }\n  notifiers: [webhook]${action("Record shell")}\n`,
    );
    assert.equal(await reloader.reload("test"), true);
    const res = await kestrel.post(falcoEvent());
    const { trace_id } = (await res.json()) as { trace_id: string };
    const [hook] = await receiver.waitFor(1, 5000);
    assert.equal((JSON.parse(hook!.body) as { trace_id: string }).trace_id, trace_id);
    assert.equal(await outcome(kestrel, "Read sensitive file untrusted"), "unmatched");
  });

  it("runs reloads one at a time, and one more after the last request", async () => {
    const before = await reloads(kestrel, "success");
    const all = await Promise.all([reloader.reload("a"), reloader.reload("b"), reloader.reload("c"), reloader.reload("d")]);
    assert.deepEqual(all, [true, true, true, true]);
    assert.equal((await reloads(kestrel, "success")) - before, 2, "the first, then one for the three that came during it");
  });
});
