// Concurrent artifacts are never lost or overwritten: 200 events of the same rule accepted at once, each
// storing its own artifact through local:file in the same second (the same Talon name for all of them),
// give 200 files, each holding its own event's artifact, and each event's notification points at the file
// with that event's artifact. Before the names held the trace id and were created exclusively, 40 such
// events gave 29–38 files and notifications pointed at another event's file.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { falcoEvent } from "../support/events.ts";
import { type RunningKestrel, startKestrel, type WebhookNotification } from "../support/kestrel.ts";
import { type Receiver, startReceiver } from "../support/receiver.ts";
import { until } from "../support/wait.ts";

const EVENTS = 200;

describe("local:file under concurrent events", () => {
  let receiver: Receiver;
  let kestrel: RunningKestrel;
  let dest: string;

  before(async () => {
    receiver = await startReceiver();
    dest = await mkdtemp(join(tmpdir(), "kestrel-unique-"));
    kestrel = await startKestrel({
      config: `workers: 32\ndefault_notifiers: [webhook]\nnotifiers:\n  webhook:\n    url: ${receiver.url}\n`,
      rules: `
- rule: Record
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Record the trace
      actionner: local:command
      parameters: { command: ["/bin/echo", "\${TRACE_ID}"], stdin: none }
      output:
        target: local:file
        parameters: { destination: ${JSON.stringify(dest)} }
`,
    });
  });
  after(async () => {
    await kestrel?.close();
    await receiver?.close();
  });

  it(`${EVENTS} concurrent artifacts give ${EVENTS} distinct files, each notified with its own event's file`, async () => {
    const answers = await Promise.all(Array.from({ length: EVENTS }, () => kestrel.post(falcoEvent())));
    const traces = await Promise.all(
      answers.map(async (r) => {
        assert.equal(r.status, 200);
        return ((await r.json()) as { trace_id: string }).trace_id;
      }),
    );
    assert.equal(new Set(traces).size, EVENTS);
    const outputs = (): WebhookNotification[] =>
      receiver.requests.map((r) => JSON.parse(r.body) as WebhookNotification).filter((n) => n.message === "output");
    await until(() => outputs().length >= EVENTS, `${EVENTS} output notifications`, 60_000);

    const files = (await readdir(dest)).filter((f) => !f.startsWith("."));
    assert.equal(files.length, EVENTS, "one file per artifact");
    for (const n of outputs()) {
      assert.equal(n.status, "success", n.error);
      const path = new URL(n.location!);
      assert.equal(await readFile(path, "utf8"), `${n.trace_id}\n`, "the notified file holds this event's artifact");
      assert.ok(path.pathname.includes(`_${n.trace_id}_`), "the name holds the trace id");
    }
    assert.equal(new Set(outputs().map((n) => n.location)).size, EVENTS);
    assert.deepEqual(new Set(outputs().map((n) => n.trace_id)), new Set(traces));
  });
});
