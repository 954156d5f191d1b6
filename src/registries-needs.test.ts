// Every plugin's `needs` says what it really uses, because the app creates no client that no plugin in use
// declares: a plugin that forgets "kubernetes" would find no client at run time.
// Two checks, since neither alone is enough. Statically, the plugin's file and everything it imports (outside
// clients/) is read for uses of a client: a plugin that uses none must declare none, and one that uses one must
// declare it. Then each plugin that declares a need runs its example against clients that record what is
// touched (and fail at once, so nothing is reached): AWS services, MinIO and the instance metadata service
// are told apart there, by the method called.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { Clients } from "./clients/index.ts";
import { parseEvent } from "./events/parse.ts";
import { exampleParameters } from "./plugins/describe.ts";
import { pluginId } from "./plugins/registry.ts";
import type { ActionRun, AnyPlugin, ClientNeed, Notification } from "./plugins/types.ts";
import { createRegistries } from "./registries.ts";

const SRC = import.meta.dirname;
const registries = createRegistries();
const all: AnyPlugin[] = [
  ...registries.actionners.list(),
  ...registries.outputs.list(),
  ...registries.notifiers.list(),
  ...registries.contexts.list(),
];

// ---- static: the source the plugin runs -------------------------------------------------------------------

type Family = "kubernetes" | "gcp" | "aws";
const FAMILY: Record<ClientNeed, Family> = { kubernetes: "kubernetes", gcp: "gcp", aws: "aws", minio: "aws", "aws-metadata": "aws" };

/** kubernetesOf(…), clients.kubernetes, ctx.clients?.gcp, const { aws } = ctx.clients. */
function usesOf(source: string): Set<Family> {
  const found = new Set<Family>();
  for (const family of ["kubernetes", "gcp", "aws"] as const) {
    const patterns = [
      new RegExp(`\\b${family}Of\\(`),
      new RegExp(`\\bclients\\??\\.${family}\\b`),
      new RegExp(`\\{[^}]*\\b${family}\\b[^}]*\\}\\s*=\\s*[\\w?.]*\\bclients\\b`),
    ];
    if (patterns.some((p) => p.test(source))) found.add(family);
  }
  return found;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

/** The plugin's file and every file of src/ it imports, directly or not, except the clients themselves. */
function sourcesOf(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file) || relative(SRC, file).startsWith("clients")) return seen;
  seen.add(file);
  for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) sourcesOf(resolve(dirname(file), (m[1] ?? m[2])!), seen);
  return seen;
}

function fileOf(plugin: AnyPlugin): string {
  const folder = { actionner: "actionners", output: "outputs", notifier: "notifiers", context: "contexts" }[plugin.kind];
  return resolve(SRC, folder, plugin.category === undefined ? `${plugin.name}.ts` : `${plugin.category}/${plugin.name}.ts`);
}

function staticUses(plugin: AnyPlugin): Set<Family> {
  const found = new Set<Family>();
  for (const file of sourcesOf(fileOf(plugin))) for (const f of usesOf(readFileSync(file, "utf8"))) found.add(f);
  return found;
}

// ---- at run time: clients that record what is touched ----------------------------------------------------

class Touched extends Error {}

/** The AwsClients method → what it uses. */
const AWS_METHODS: Readonly<Record<string, ClientNeed>> = {
  s3: "aws",
  invokeLambda: "aws",
  minio: "minio",
  instanceMetadata: "aws-metadata",
};

function recordingClients(touched: Set<string>): Clients {
  // Any use of the client stops the plugin; `then` is asked when the client is returned from an async function.
  const client = (name: string, method?: (prop: string) => string) =>
    new Proxy(
      {},
      {
        get(_, prop) {
          if (prop === "then" || typeof prop === "symbol") return undefined;
          if (method === undefined) throw new Touched(name);
          return () => {
            touched.add(method(prop));
            throw new Touched(prop);
          };
        },
      },
    );
  return {
    http: () => Promise.reject(new Touched("http")),
    get kubernetes() {
      touched.add("kubernetes");
      return client("kubernetes") as NonNullable<Clients["kubernetes"]>;
    },
    get gcp() {
      touched.add("gcp");
      return client("gcp") as NonNullable<Clients["gcp"]>;
    },
    // An unknown method is named in the failure: this table must learn it.
    get aws() {
      return client("aws", (prop) => AWS_METHODS[prop] ?? `aws.${prop}?`) as NonNullable<Clients["aws"]>;
    },
  } as Clients;
}

/** Every field any actionner requires, with a value of its kind. */
function eventJson(): string {
  const values: Record<string, string> = {
    "k8s.ns.name": "prod",
    "k8s.pod.name": "web-1",
    "k8s.container.name": "app",
    "fd.rip": "203.0.113.7",
    "fd.sip": "203.0.113.8",
    "ka.target.resource": "configmaps",
    "ka.target.name": "settings",
    "ka.target.namespace": "prod",
  };
  const fields: Record<string, string> = {};
  for (const a of registries.actionners.list()) for (const f of a.requiredFields.flat()) fields[f] = values[f] ?? "x";
  return JSON.stringify({
    output: "a shell in web-1",
    priority: "Warning",
    rule: "Terminal shell in container",
    source: "syscall",
    time: "2024-12-30T14:37:27.505989596Z",
    hostname: "node-1",
    tags: [],
    output_fields: { ...values, ...fields },
  });
}

async function touchedBy(plugin: AnyPlugin): Promise<{ touched: Set<string>; error: unknown }> {
  const touched = new Set<string>();
  const clients = recordingClients(touched);
  const log = pino({ level: "silent" });
  const signal = AbortSignal.timeout(10_000);
  const event = parseEvent(eventJson()).event;
  const params = plugin.params.parse(exampleParameters(plugin));
  const objects = { namespace: "prod", pod: "web-1" };
  try {
    if (plugin.kind === "actionner") {
      const ctx: ActionRun = { event, params, variables: new Map(), contextValues: {}, clients, log, signal, traceId: "0".repeat(32) };
      await plugin.run(ctx, await plugin.preflight?.(ctx));
    } else if (plugin.kind === "output") {
      await plugin.write({ name: "app.log", data: "x" }, { event, params, objects, clients, log, signal, traceId: "0".repeat(32) });
    } else if (plugin.kind === "notifier") {
      const instance = await plugin.create(params, { clients, log });
      const notification: Notification = {
        ...{ kind: "action", status: "success", rule: "r", action: "a", actionner: "kubernetes:label", summary: "done", objects },
        ...{ event, traceId: "0".repeat(32), time: new Date() },
      };
      await instance.send(notification, signal);
    } else {
      await plugin.gather(event, { clients, log, signal });
    }
    return { touched, error: undefined };
  } catch (error) {
    return { touched, error };
  }
}

describe("what each plugin needs", () => {
  it("reads the uses (a pattern that found nothing would pass everything)", () => {
    assert.deepEqual([...staticUses(registries.actionners.get("kubernetes:terminate")!)], ["kubernetes"]);
    assert.deepEqual([...staticUses(registries.outputs.get("minio:s3")!)], ["aws"]);
    assert.deepEqual([...usesOf("const { gcp } = ctx.clients;")], ["gcp"]);
  });

  for (const plugin of all) {
    it(`${pluginId(plugin)}: declares the clients its code uses`, () => {
      const declared = [...new Set(plugin.needs.map((n) => FAMILY[n]))].sort();
      assert.deepEqual(declared, [...staticUses(plugin)].sort(), `needs: ${JSON.stringify(plugin.needs)}`);
    });

    if (plugin.needs.length === 0) continue;
    it(`${pluginId(plugin)}: its example touches exactly ${plugin.needs.join(", ")}`, async () => {
      const { touched, error } = await touchedBy(plugin);
      assert.deepEqual([...touched].sort(), [...plugin.needs].sort(), `the run ended with: ${String(error)}`);
    });
  }
});
