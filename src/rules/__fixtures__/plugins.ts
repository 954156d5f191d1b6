// Small fake plugins for the rules tests, shaped like Talon's (same names and parameters), so that the
// tests exercise real registries and real zod schemas without any Kubernetes or cloud code.
import { z } from "zod";
import { defineActionner, defineContext, defineNotifier, defineOutput } from "../../plugins/define.ts";
import type { Registries } from "../../plugins/registry.ts";
import { Registry } from "../../plugins/registry.ts";
import type { Actionner, ContextProvider, Notifier, Output, ParamsSchema } from "../../plugins/types.ts";

const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;

/** What a fake actionner or output, named `category:name`, declares besides its parameters and its one function. */
function categorized(id: string) {
  const [category, name] = id.split(":") as [string, string];
  return { category, name, needs: [], description: `fake ${id}`, example: "" };
}

function actionner<P extends ParamsSchema>(
  id: string,
  params: P,
  extra: Partial<Pick<Actionner<P>, "continueByDefault" | "artifact" | "check">> = {},
): Actionner {
  return defineActionner({
    ...categorized(id),
    source: "any",
    requiredFields: [],
    continueByDefault: extra.continueByDefault ?? true,
    artifact: extra.artifact ?? "none",
    params,
    ...(extra.check === undefined ? {} : { check: extra.check }),
    run: async () => ({ summary: `${id} done` }),
  });
}

function output(id: string, params: ParamsSchema): Output {
  return defineOutput({ ...categorized(id), params, write: async () => ({ summary: "stored", location: `${id}://x` }) });
}

const s3 = z.object({ bucket: z.string(), prefix: z.string().default(""), region: z.string().optional() });

export const fakeActionners: readonly Actionner[] = [
  actionner(
    "kubernetes:terminate",
    z.object({
      grace_period_seconds: z.number().int().min(0).optional(),
      ignore_daemonsets: z.boolean().default(false),
      ignore_statefulsets: z.boolean().default(false),
      ignore_standalone_pods: z.boolean().default(false),
      min_healthy_replicas: z.union([z.number(), z.string()]).optional(),
    }),
    { continueByDefault: false },
  ),
  actionner(
    "kubernetes:label",
    z.object({
      labels: z
        .record(z.string(), z.string())
        .refine((r) => Object.keys(r).length >= 1, { message: "parameter 'labels' should have at least one label" }),
    }),
  ),
  actionner(
    "kubernetes:networkpolicy",
    z.object({ allow_cidr: z.array(z.string()).default([]), allow_namespaces: z.array(z.string()).default([]) }),
    {
      continueByDefault: false,
      check: (p) => (p.allow_cidr as string[]).filter((c) => !CIDR.test(c)).map((c) => `wrong CIDR '${c}'`),
    },
  ),
  actionner("kubernetes:download", z.object({ pod: z.string().optional(), file: z.string() }), { artifact: "required" }),
  actionner("kubernetes:exec", z.object({ shell: z.string().default("/bin/sh"), command: z.string() })),
  actionner("kubernetes:log", z.object({ tail_lines: z.number().int().min(0).default(20) }), { artifact: "optional" }),
  actionner("kubernetes:delete", z.object({})),
  actionner("kubernetes:cordon", z.object({})),
  actionner(
    "kubernetes:drain",
    z.object({
      ignore_daemonsets: z.boolean().default(false),
      ignore_statefulsets: z.boolean().default(false),
      min_healthy_replicas: z.union([z.number(), z.string()]).optional(),
      max_wait_period: z.number().int().optional(),
    }),
  ),
  actionner(
    "kubernetes:tcpdump",
    z.object({ snaplen: z.number().int().min(0).default(4096), duration: z.number().int().min(0).default(20) }),
    { artifact: "required", continueByDefault: false },
  ),
  actionner(
    "kubernetes:sysdig",
    z.object({
      scope: z.enum(["pod", "node"]).default("pod"),
      duration: z.number().int().gt(0).lte(30).default(5),
      buffer_size: z.number().int().gte(128).default(1024),
    }),
    { artifact: "required", continueByDefault: false },
  ),
  actionner("cilium:networkpolicy", z.object({ allow_cidr: z.array(z.string()).default([]) })),
  actionner(
    "calico:networkpolicy",
    z.object({
      order: z.number().int().optional(),
      allow_cidr: z.array(z.string()).default([]),
      allow_namespaces: z.array(z.string()).default([]),
    }),
  ),
  actionner(
    "aws:lambda",
    z.object({
      aws_lambda_name: z.string(),
      aws_lambda_alias_or_version: z.string().default("$LATEST"),
      aws_lambda_invocation_type: z.enum(["RequestResponse", "Event", "DryRun"]).default("RequestResponse"),
    }),
  ),
  actionner("gcp:function", z.object({ gcp_function_name: z.string(), gcp_function_location: z.string() })),
];

export const fakeOutputs: readonly Output[] = [
  output("aws:s3", s3),
  output("minio:s3", s3),
  output("local:file", z.object({ destination: z.string() })),
];

/** What a fake notifier or context declares besides its one function. */
const bare = (name: string) => ({ name, needs: [], description: `fake ${name}`, params: z.object({}), example: "" });

export const fakeNotifiers: readonly Notifier[] = ["slack", "webhook", "k8sevents"].map((name) =>
  defineNotifier({ ...bare(name), create: () => ({ send: async () => {} }) }),
);

export const fakeContexts: readonly ContextProvider[] = ["aws", "k8snode"].map((name) =>
  defineContext({ ...bare(name), gather: async () => ({ [`${name}.fake`]: "x" }) }),
);

export function fakeRegistries(): Registries {
  return {
    actionners: new Registry("actionners", fakeActionners),
    outputs: new Registry("outputs", fakeOutputs),
    notifiers: new Registry("notifiers", fakeNotifiers),
    contexts: new Registry("contexts", fakeContexts),
  };
}

/** The path of a fixture file. */
export function fixture(name: string): string {
  return new URL(name, import.meta.url).pathname;
}
