import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { KestrelError } from "../errors.ts";
import { createLogger, LogFields, type LogFormat, REDACTED, redactSecrets } from "./logger.ts";

const ansi = /\u001b\[\d+(;\d+)*m/;

function capture(format: LogFormat, level = "info") {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((l) => l !== ""),
      );
      done();
    },
  });
  return { log: createLogger({ format, level, destination }), lines };
}

function jsonLines(lines: string[]): Record<string, unknown>[] {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("createLogger: json", () => {
  test("a line has the level label, an ISO time, msg and the bindings", () => {
    const { log, lines } = capture("json");
    const before = Date.now();
    log.child({ [LogFields.traceId]: "t-1", [LogFields.rule]: "Terminal shell" }).info({ [LogFields.status]: "success" }, "action done");
    assert.equal(lines.length, 1);
    const [line] = jsonLines(lines);
    assert.equal(line?.["level"], "info");
    assert.equal(line?.["msg"], "action done");
    assert.equal(line?.["trace_id"], "t-1");
    assert.equal(line?.["rule"], "Terminal shell");
    assert.equal(line?.["status"], "success");
    assert.equal(typeof line?.["time"], "string");
    const time = Date.parse(line?.["time"] as string);
    assert.ok(time >= before - 1000 && time <= Date.now() + 1000, "time is a parseable ISO date");
    assert.match(line?.["time"] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(line?.["pid"], undefined);
    assert.equal(line?.["hostname"], undefined);
  });

  test("levels below the configured one are not written", () => {
    const { log, lines } = capture("json", "warn");
    log.info("hidden");
    log.debug({ big: "object" }, "hidden");
    log.warn("shown");
    log.error("shown too");
    assert.deepEqual(
      jsonLines(lines).map((l) => [l["level"], l["msg"]]),
      [
        ["warn", "shown"],
        ["error", "shown too"],
      ],
    );
    assert.equal(log.isLevelEnabled("debug"), false);
  });

  test("errors are serialised with their code and their cause", () => {
    const { log, lines } = capture("json");
    const err = new KestrelError("ERR_ACTION", "pod not found", { cause: new Error("404 from the API") });
    log.error({ err }, "action failed");
    const [line] = jsonLines(lines);
    const e = line?.["err"] as Record<string, unknown>;
    assert.equal(e["type"], "KestrelError");
    assert.equal(e["message"], "pod not found");
    assert.equal(e["code"], "ERR_ACTION");
    assert.equal((e["cause"] as Record<string, unknown>)["message"], "404 from the API");
    assert.equal(typeof e["stack"], "string");
  });

  test("an unknown level is rejected", () => {
    assert.throws(() => createLogger({ format: "json", level: "loud" }), { code: "ERR_CONFIG_INVALID" });
  });
});

describe("createLogger: redaction", () => {
  test("secrets are redacted wherever they are, other values are kept", () => {
    const { log, lines } = capture("json");
    const config = {
      listen_port: 2803,
      notifiers: {
        webhook: { url: "https://hooks.example/T0K3N", http_method: "POST", custom_headers: { "x-token": "abc" } },
        smtp: { host_port: "mail:25", password: "hunter2" },
      },
      minio: { endpoint: "minio:9000", access_key: "AK", secret_key: "SK" },
    };
    log.info({ config, password: "top", headers: { authorization: "Bearer x", accept: "*/*" } }, "loaded");
    const [line] = jsonLines(lines);
    assert.deepEqual(line?.["config"], {
      listen_port: 2803,
      notifiers: {
        webhook: { url: REDACTED, http_method: "POST", custom_headers: REDACTED },
        smtp: { host_port: "mail:25", password: REDACTED },
      },
      minio: { endpoint: "minio:9000", access_key: REDACTED, secret_key: REDACTED },
    });
    assert.equal(line?.["password"], REDACTED);
    assert.deepEqual(line?.["headers"], { authorization: REDACTED, accept: "*/*" });
    assert.ok(!lines[0]?.includes("hunter2"));
    assert.ok(!lines[0]?.includes("T0K3N"));
    // The logged object itself is left untouched.
    assert.equal(config.notifiers.smtp.password, "hunter2");
  });

  test("a top-level notifiers map and child bindings are redacted too", () => {
    const { log, lines } = capture("json");
    log
      .child({ notifier: "slack", settings: { webhook_url: "https://hooks.slack.com/x" } })
      .info({ notifiers: { webhook: { url: "https://secret.example" } }, url: "https://kube.example" }, "x");
    const [line] = jsonLines(lines);
    assert.deepEqual(line?.["settings"], { webhook_url: REDACTED });
    assert.deepEqual(line?.["notifiers"], { webhook: { url: REDACTED } });
    assert.equal(line?.["url"], "https://kube.example", "a url outside notifier settings is kept");
  });

  test("redactSecrets copies only what it changes", () => {
    const clean = { a: 1, nested: { b: [1, 2, { c: "x" }] } };
    assert.equal(redactSecrets(clean), clean);
    const dirty = { keep: { a: 1 }, list: [{ token: "t" }, { b: 2 }] };
    const out = redactSecrets(dirty);
    assert.notEqual(out, dirty);
    assert.equal(out.keep, dirty.keep);
    assert.deepEqual(out.list, [{ token: REDACTED }, { b: 2 }]);
    assert.equal(out.list[1], dirty.list[1]);
    assert.equal(dirty.list[0]?.token, "t");
  });
});

describe("createLogger: URL credentials", () => {
  test("are redacted from messages, errors and their causes, fields and bindings, in every format", () => {
    for (const format of ["json", "text", "color"] as const) {
      const { log, lines } = capture(format);
      const cause = new Error("connect to nats://tok3n@nats:4222 failed");
      log.child({ server: "nats://user:pa55@nats:4222" }).error(
        {
          err: new KestrelError("ERR_NOTIFY", "fetch failed for https://user:pa55@hooks.example/x", { cause }),
          host_port: "http://es:pa55@es:9200",
        },
        "sent to https://user:pa55@hooks.example",
      );
      assert.equal(lines.length, 1);
      assert.doesNotMatch(lines[0]!, /pa55|tok3n/, format);
      assert.match(lines[0]!, /https:\/\/\[redacted\]@hooks\.example/, format);
      assert.match(lines[0]!, /nats:\/\/\[redacted\]@nats:4222/, format);
    }
  });
});

describe("createLogger: errors", () => {
  test("keep their stack and cause; secrets in their properties and URL credentials in their stacks are redacted", () => {
    const { log, lines } = capture("json");
    const cause = Object.assign(new Error("request to https://user:pa55@s3.example/b refused"), {
      headers: { authorization: "Bearer s3cr3t", accept: "*/*" },
      token: "t0k3n",
    });
    const err = Object.assign(new KestrelError("ERR_AWS", "cannot upload to https://user:pa55@s3.example/b", { cause }), {
      request: { api_key: "k3y" },
    });
    log.error({ err, code: err.code }, "artifact not stored");
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /pa55|s3cr3t|t0k3n|k3y/);
    const e = jsonLines(lines)[0]?.["err"] as Record<string, unknown>;
    assert.match(String(e["stack"]), /^KestrelError: cannot upload to https:\/\/\[redacted\]@s3\.example\/b\n\s+at /);
    assert.deepEqual(e["request"], { api_key: REDACTED });
    const c = e["cause"] as Record<string, unknown>;
    assert.match(String(c["stack"]), /^Error: request to https:\/\/\[redacted\]@s3\.example\/b refused\n\s+at /);
    assert.deepEqual(c["headers"], { authorization: REDACTED, accept: "*/*" });
    assert.equal(c["token"], REDACTED);
    assert.equal(jsonLines(lines)[0]?.["code"], "ERR_AWS");
    // The error itself is left untouched.
    assert.equal(cause.token, "t0k3n");
  });

  test("a thrown value that is not an Error is logged as it is, secrets redacted", () => {
    const { log, lines } = capture("json");
    log.error({ err: "plain text" }, "x");
    log.error({ err: { message: "object", password: "p" } }, "y");
    const [first, second] = jsonLines(lines);
    assert.equal(first?.["err"], "plain text");
    // pino takes an object with a message for an error (WebSocket error events are such objects).
    assert.deepEqual(second?.["err"], { type: "Object", message: "object", password: REDACTED });
  });
});

describe("createLogger: text and color", () => {
  test("text is one line without ANSI codes, fields after the message", () => {
    const { log, lines } = capture("text");
    log.child({ trace_id: "t-2" }).warn({ rule: "R", password: "p" }, "slow action");
    log.error({ err: new Error("boom") }, "failed");
    assert.equal(lines.length, 2, "one line per record, errors included");
    const [first, second] = lines;
    assert.doesNotMatch(first ?? "", ansi);
    assert.match(first ?? "", /WARN.*: slow action \{.*"trace_id":"t-2".*"rule":"R".*\}$/);
    assert.match(first ?? "", /"password":"\[redacted\]"/);
    assert.match(second ?? "", /ERROR.*: failed .*"message":"boom"/);
  });

  test("color has ANSI codes", () => {
    const { log, lines } = capture("color");
    log.info({ rule: "R" }, "colored");
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", ansi);
    assert.match(lines[0] ?? "", /colored/);
  });
});

test("LogFields holds Kestrel's field names", () => {
  assert.deepEqual(Object.values(LogFields).sort(), [
    "action",
    "actionner",
    "falco_rule",
    "notifier",
    "output_target",
    "priority",
    "rule",
    "source",
    "status",
    "trace_id",
  ]);
});
