// Starts a real Kestrel (config and rules loaded from files by the real loaders, intake listening on
// 127.0.0.1 on a free port) and captures its JSON log lines; and what tests of a running Kestrel share:
// waiting, the metrics and webhook notifications it produced, a rule that acts on the default event.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Logger } from "pino";
import { type App, createApp } from "../../src/app.ts";
import type { Clients } from "../../src/clients/index.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createRegistries, type Registries } from "../../src/registries.ts";
import { loadRules } from "../../src/rules/index.ts";
import { formatDiagnostic } from "../../src/yaml/source.ts";
import { falcoEvent } from "./events.ts";

export interface RunningKestrel {
  readonly app: App;
  readonly url: string;
  readonly logs: Record<string, unknown>[];
  /** The rules file the server loaded (tests rewrite it to reload). */
  readonly rulesFile: string;
  readonly registries: Registries;
  readonly log: Logger;
  post(body: string, headers?: Record<string, string>, path?: string): Promise<Response>;
  close(): Promise<boolean>;
}

export async function startKestrel(options: { config?: string; rules: string; clients?: Clients }): Promise<RunningKestrel> {
  const dir = await mkdtemp(join(tmpdir(), "kestrel-test-"));
  const configFile = join(dir, "config.yaml");
  const rulesFile = join(dir, "rules.yaml");
  await writeFile(configFile, `listen_address: 127.0.0.1\nlisten_port: 0\n${options.config ?? ""}`);
  await writeFile(rulesFile, options.rules);
  const registries = createRegistries();
  const { config, diagnostics } = await loadConfig({ file: configFile, env: {}, registries, requireFile: true });
  if (config === undefined) throw new Error(diagnostics.map(formatDiagnostic).join("\n"));
  const rules = await loadRules([rulesFile], registries, { strict: false });
  if (rules.ruleSet === undefined) throw new Error(rules.diagnostics.map(formatDiagnostic).join("\n"));
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger({ format: "json", level: "debug", destination });
  const app = await createApp({
    config,
    ruleSet: rules.ruleSet,
    registries,
    log,
    defaultMetrics: false,
    ...(options.clients === undefined ? {} : { clients: options.clients }),
  });
  const url = await app.listen();
  return {
    app,
    url,
    logs,
    rulesFile,
    registries,
    log,
    post: (body, headers = {}, path = "/") =>
      fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }),
    close: () => app.close(),
  };
}

/** Polls until `check` returns true or the timeout passes. */
export async function eventually(check: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits for an async condition (a receiver's state, a metric); `what` names it in the timeout error. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** kestrel_notifications_total{notifier, status} as scraped from /metrics (0 when absent). */
export async function notificationsTotal(kestrel: { url: string }, notifier: string, status: string): Promise<number> {
  const text = await (await fetch(`${kestrel.url}/metrics`)).text();
  const m = new RegExp(`kestrel_notifications_total\\{notifier="${notifier}",status="${status}"\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** A webhook notification's body (the webhook notifier's payload): the fields the tests read. */
export interface WebhookNotification {
  message: "action" | "output";
  status: string;
  rule: string;
  action: string;
  actionner: string;
  output?: string;
  output_target?: string;
  error?: string;
  objects?: Record<string, string>;
  location?: string;
  trace_id: string;
}

/** The webhook notifications a receiver got for the trace `traceId`, in the order they came. */
export function notificationsOf(receiver: { readonly requests: readonly { body: string }[] }, traceId: string): WebhookNotification[] {
  return receiver.requests.map((r) => JSON.parse(r.body) as WebhookNotification).filter((b) => b.trace_id === traceId);
}

/**
 * POSTs a Falco event for `rule` (with `fields`) to `via`, which must answer 200, and resolves with the webhook
 * notifications of its trace once `receiver` has at least `count` of them; `detail` is added to the timeout error.
 */
export async function postForNotifications(
  via: { post(body: string): Promise<Response> },
  receiver: { readonly requests: readonly { body: string }[] },
  event: { rule: string; fields: Record<string, unknown>; count: number; timeoutMs: number },
  detail?: () => string,
): Promise<WebhookNotification[]> {
  const res = await via.post(falcoEvent({ rule: event.rule, fields: event.fields }));
  assert.equal(res.status, 200);
  const { trace_id } = (await res.json()) as { trace_id: string };
  try {
    await eventually(
      () => notificationsOf(receiver, trace_id).length >= event.count,
      event.timeoutMs,
      `${event.count} notification(s) for ${event.rule}`,
    );
  } catch (err) {
    throw detail === undefined ? err : new Error(`${(err as Error).message}:\n${detail()}`);
  }
  return notificationsOf(receiver, trace_id);
}

/** Rules for the default test event (falcoEvent()): the rule "Act" runs one action, "Ok" (local:command /bin/true), which succeeds. */
export const ACT_OK_RULES = `
- rule: Act
  match: { rules: [Terminal shell in container] }
  actions:
    - action: Ok
      actionner: local:command
      parameters: { command: ["/bin/true"] }
`;
