import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeNotification } from "../../test/support/notification.ts";
import slack, { slackPayload } from "./slack.ts";

const settings = slack.params.parse({ webhook_url: "https://hooks.slack.com/services/T/B/X" });

describe("slack notifier", () => {
  it("has Talon's settings and defaults; webhook_url is required", () => {
    assert.equal(settings.username, "Falco Talon");
    assert.equal(settings.icon, "https://upload.wikimedia.org/wikipedia/commons/2/26/Circaetus_gallicus_claw.jpg");
    assert.equal(settings.format, "long");
    assert.equal(slack.params.safeParse({}).success, false);
    assert.equal(slack.params.safeParse({ webhook_url: "hooks.slack.com/x" }).success, false);
    assert.equal(slack.params.safeParse({ webhook_url: "https://x", format: "medium" }).success, false);
  });

  it("long format: header text, Talon's fields in order, colour by status, footer", () => {
    const p = slackPayload(makeNotification({ traceId: "t-1" }), settings);
    assert.equal(p.text, "[*success*][*action*] Rule: `Terminal shell in container` Action: `Label the pod`");
    assert.equal(p.username, "Falco Talon");
    assert.equal(p.icon_url, settings.icon);
    const a = p.attachments[0]!;
    assert.equal(a.color, "#23ba47");
    assert.equal(a.footer, settings.footer);
    assert.deepEqual(
      a.fields!.map((f) => f.title),
      ["Rule", "Action", "Actionner", "Status", "Namespace", "Pod", "Event", "Message", "Trace ID", "Output"],
    );
    const field = (t: string) => a.fields!.find((f) => f.title === t)!;
    assert.deepEqual(field("Actionner"), { title: "Actionner", value: "`kubernetes:label`", short: true });
    assert.deepEqual(field("Rule"), { title: "Rule", value: "`Terminal shell in container`", short: false });
    assert.equal(field("Pod").value, "`nginx`");
    assert.equal(field("Trace ID").value, "`t-1`");
    assert.match(field("Event").value, /^`A shell was spawned \(n=\d+\)`$/);
    assert.equal(field("Output").value, '```\nthe pod "nginx" in the namespace "default" has been labelled```');
  });

  it("colours failures red and ignored results grey, and shows the error", () => {
    const failed = slackPayload(makeNotification({ status: "failure", summary: "", error: 'pods "nginx" not found' }), settings);
    assert.equal(failed.attachments[0]!.color, "#e20b0b");
    assert.equal(failed.attachments[0]!.fields!.find((f) => f.title === "Error")!.value, '`pods "nginx" not found`');
    assert.equal(
      failed.attachments[0]!.fields!.some((f) => f.title === "Output"),
      false,
    );
    assert.equal(slackPayload(makeNotification({ status: "ignored" }), settings).attachments[0]!.color, "#a4a8b1");
  });

  it("short format: one line in the attachment, no fields, no footer, no top-level text", () => {
    const s = { ...settings, format: "short" as const };
    const ok = slackPayload(makeNotification(), s);
    assert.equal(ok.text, undefined);
    assert.equal(ok.attachments[0]!.fields, undefined);
    assert.equal(ok.attachments[0]!.footer, undefined);
    assert.equal(
      ok.attachments[0]!.text,
      '[*success*][*action*] Rule: `Terminal shell in container` Action: `Label the pod`, with output: `the pod "nginx" in the namespace "default" has been labelled`',
    );
    const failed = slackPayload(makeNotification({ status: "failure", error: "boom" }), s);
    assert.match(failed.attachments[0]!.text!, /, with error: `boom`$/);
  });

  it("presents a matched event by its priority", () => {
    const n = makeNotification({ kind: "event", action: "", actionner: "", summary: "", objects: {}, event: { priority: "Critical" } });
    const p = slackPayload(n, settings);
    assert.equal(p.attachments[0]!.color, "#ff5400");
    assert.match(p.text!, /^\[\*Critical\*\]\[\*event\*\]/);
    const titles = p.attachments[0]!.fields!.map((f) => f.title);
    assert.ok(titles.includes("Priority") && !titles.includes("Action") && !titles.includes("Status"));
    assert.equal(
      slackPayload(makeNotification({ kind: "event", event: { priority: "Debug" } }), settings).attachments[0]!.color,
      "#ccfff2",
    );
  });

  it("shows the output target of an artifact write", () => {
    const p = slackPayload(makeNotification({ kind: "output", target: "aws:s3", location: "s3://b/k" }), settings);
    assert.match(p.text!, /^\[\*success\*\]\[\*output\*\].* OutputTarget: `aws:s3`$/);
    assert.equal(p.attachments[0]!.fields!.find((f) => f.title === "Location")!.value, "`s3://b/k`");
  });

  it("escapes Slack's control characters and cuts huge outputs", () => {
    const p = slackPayload(makeNotification({ summary: `<script> & ${"x".repeat(5000)}`, rule: "a`b" }), settings);
    const out = p.attachments[0]!.fields!.find((f) => f.title === "Output")!.value;
    assert.ok(out.startsWith("```\n&lt;script&gt; &amp; xxx"));
    assert.ok(out.length < 3100);
    assert.equal(p.attachments[0]!.fields![0]!.value, "`aˋb`");
  });

  it("leaves out empty username and icon", () => {
    const p = slackPayload(makeNotification(), { ...settings, username: "", icon: "", footer: "" });
    assert.equal("username" in p, false);
    assert.equal("icon_url" in p, false);
    assert.equal("footer" in p.attachments[0]!, false);
  });
});
