// The Helm chart (deploy/helm/kestrel): helm lint and helm template with the defaults, every example values
// file and a values file copied whole from Falco Talon's chart; every rendered object validated against the
// Kubernetes schemas (kubernetes-models) and applied to the Kubernetes API test server; assertions on what
// the objects say (mounts, probes, checksums, RBAC, replicas, Talon's keys). The rendered config.yaml and
// rules are loaded by Kestrel's own loaders.
import assert from "node:assert/strict";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { parse, parseAllDocuments } from "yaml";
import { CHART_PERMISSIONS, renderChartPermissions } from "../../scripts/chart-permissions.ts";
import { CHART_DIR, EXAMPLES_DIR, locateHelm, runHelm } from "../../scripts/helm.ts";
import { MANIFESTS_DIR, renderKubernetesManifests } from "../../scripts/kubernetes-manifests.ts";
import { loadConfig } from "../../src/config/load.ts";
import { rbacRulesOf } from "../../src/plugins/rbac.ts";
import { createRegistries } from "../../src/registries.ts";
import { compileRules, loadRulesTexts } from "../../src/rules/index.ts";
import type { RuleSet } from "../../src/rules/types.ts";
import { type KubeApiServer, startKubeApi } from "../support/kube-api/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are arbitrary JSON
type Obj = Record<string, any>;

const HELM = locateHelm();
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const TALON_DEFAULTS = join(FIXTURES, "talon-chart-defaults.yaml");
const example = (name: string) => join(EXAMPLES_DIR, "kestrel", name);
const NS = "falco";
const registries = createRegistries();

/** A rendering: the objects and the release they belong to. */
interface Rendered {
  release: string;
  objects: Obj[];
}

function template(release: string, values: readonly string[], sets: readonly string[] = [], extra: readonly string[] = []): Rendered {
  const args = ["template", release, CHART_DIR, "--namespace", NS, ...extra];
  for (const v of values) args.push("--values", v);
  for (const s of sets) args.push("--set", s);
  const text = runHelm(HELM!, args);
  const objects = parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
  return { release, objects };
}

function find(r: Rendered, kind: string, name?: string): Obj {
  const o = r.objects.find((x) => x["kind"] === kind && (name === undefined || x["metadata"].name === name));
  assert.ok(o, `no ${kind}${name === undefined ? "" : ` ${name}`} in the rendering of ${r.release}`);
  return o;
}
const all = (r: Rendered, kind: string) => r.objects.filter((x) => x["kind"] === kind);
const deployment = (r: Rendered) => find(r, "Deployment", r.release);
const container = (r: Rendered) => deployment(r)["spec"].template.spec.containers[0] as Obj;
const configText = (r: Rendered) => find(r, "Secret", `${r.release}-config`)["stringData"]["config.yaml"] as string;

/** The -c file and the -r files of the command line. */
function commandFiles(r: Rendered): { config: string; rules: string[] } {
  const args = container(r)["args"] as string[];
  assert.equal(args[0], "server");
  const rules: string[] = [];
  let config = "";
  for (let i = 1; i < args.length; i += 2) {
    if (args[i] === "-c") config = args[i + 1]!;
    else if (args[i] === "-r") rules.push(args[i + 1]!);
    else assert.fail(`unexpected argument ${args[i]}`);
  }
  return { config, rules };
}

/** The content the pod sees at `path`, through its volume mounts and the rendered Secret/ConfigMap. */
function mountedContent(r: Rendered, path: string): string | undefined {
  const spec = deployment(r)["spec"].template.spec as Obj;
  for (const m of container(r)["volumeMounts"] as Obj[]) {
    let key: string | undefined;
    if (m["subPath"] !== undefined && m["mountPath"] === path) key = m["subPath"];
    else if (m["subPath"] === undefined && path.startsWith(`${m["mountPath"]}/`) && !path.slice(m["mountPath"].length + 1).includes("/"))
      key = basename(path);
    if (key === undefined) continue;
    const volume = (spec["volumes"] as Obj[]).find((v) => v["name"] === m["name"]);
    assert.ok(volume, `volume ${m["name"]}`);
    if (volume["configMap"] !== undefined) return find(r, "ConfigMap", volume["configMap"].name)["data"]?.[key];
    if (volume["secret"] !== undefined) {
      const secret = r.objects.find((o) => o["kind"] === "Secret" && o["metadata"].name === volume["secret"].secretName);
      return secret === undefined ? `(Secret ${volume["secret"].secretName}, key ${key})` : secret["stringData"]?.[key];
    }
  }
  return undefined;
}

/** "group/resource: verb" for every rule of a ClusterRole. */
function grants(role: Obj): Set<string> {
  const out = new Set<string>();
  for (const rule of role["rules"] ?? []) {
    for (const g of rule.apiGroups) for (const res of rule.resources) for (const v of rule.verbs) out.add(`${g}/${res}: ${v}`);
  }
  return out;
}

/** What Kestrel's compiled rules need: the actionners and contexts of their actions, their notifiers and the default ones. */
function needed(ruleSet: RuleSet, defaultNotifiers: readonly string[]): Set<string> {
  const out = new Set<string>();
  const add = (plugin: Parameters<typeof rbacRulesOf>[0] | undefined) => {
    if (plugin === undefined) return;
    for (const rule of rbacRulesOf(plugin)) for (const v of rule.verbs) out.add(`${rule.apiGroup}/${rule.resource}: ${v}`);
  };
  for (const rule of ruleSet.rules) {
    for (const action of rule.actions) {
      add(action.actionner);
      for (const c of action.additionalContexts) add(registries.contexts.get(c));
    }
  }
  for (const n of [...ruleSet.notifierNames, ...defaultNotifiers]) add(registries.notifiers.get(n));
  return out;
}

/** Loads the rendered rules with Kestrel's own loader, in the command line's order. */
function compiledRules(r: Rendered): RuleSet {
  const inputs = commandFiles(r).rules.map((file) => ({ file, text: mountedContent(r, file) ?? assert.fail(`${file} is not mounted`) }));
  const loaded = loadRulesTexts(inputs);
  const compiled = compileRules(loaded.document, registries);
  const errors = [...loaded.diagnostics, ...compiled.diagnostics].filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], `the rendered rules of ${r.release} do not load`);
  return compiled.ruleSet!;
}

async function loadRenderedConfig(text: string) {
  const dir = await mkdtemp(join(tmpdir(), "kestrel-chart-"));
  try {
    const file = join(dir, "config.yaml");
    await writeFile(file, text);
    const result = await loadConfig({ file, env: {}, registries, requireFile: true });
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === "error"),
      [],
      `config.yaml:\n${text}`,
    );
    return result.config!;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The model class of a kind, from kubernetes-models (and the Prometheus Operator models for ServiceMonitor). */
async function modelOf(apiVersion: string, kind: string): Promise<new (o: Obj) => { validate(): void }> {
  const module = apiVersion.startsWith("monitoring.coreos.com/")
    ? await import(`@kubernetes-models/prometheus-operator/${apiVersion}`)
    : await import(`kubernetes-models/${apiVersion}`);
  const model = module[kind];
  assert.equal(typeof model, "function", `kubernetes-models has no ${apiVersion} ${kind}`);
  return model;
}

const missingHelm = HELM === undefined;
if (missingHelm && process.env["CI"]) {
  it("finds helm ($HELM or ~/.cache/kestrel-helm/helm, extracted by .ci/run)", () => assert.fail("helm is missing"));
}

describe("Helm chart deploy/helm/kestrel", {
  skip: missingHelm ? "helm not found ($HELM or ~/.cache/kestrel-helm/helm; .ci/run extracts it)" : false,
}, () => {
  const scenarios = new Map<string, Rendered>();
  const exampleFiles: string[] = [];
  const get = (name: string) => scenarios.get(name) ?? assert.fail(`no scenario ${name}`);

  before(async () => {
    for (const f of (await readdir(join(EXAMPLES_DIR, "kestrel"))).sort()) if (f.endsWith(".yaml")) exampleFiles.push(example(f));
    // The default release is "kestrel" in "falco", as in the docs; the others have names of their own so
    // that their cluster-scoped objects can live side by side in one API server.
    scenarios.set("defaults", template("kestrel", []));
    scenarios.set("talon-defaults", template("kestrel-talon-defaults", [TALON_DEFAULTS]));
    for (const f of exampleFiles) {
      const name = basename(f, ".yaml");
      scenarios.set(name, template(`kestrel-${name}`, [f]));
    }
  });

  it("passes helm lint --strict with the defaults, every example values file and Talon's default values", () => {
    for (const values of [[], [TALON_DEFAULTS], ...exampleFiles.map((f) => [f])]) {
      const args = ["lint", "--strict", CHART_DIR];
      for (const v of values) args.push("--values", v);
      const out = runHelm(HELM!, args);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/, `${values.join(" ")}:\n${out}`);
    }
  });

  it("refuses values the schema does not know (values.schema.json)", () => {
    assert.throws(() => template("kestrel", [], ["replicaCount=two"]), /replicaCount/);
    assert.throws(() => template("kestrel", [], ["rbac.permissions=some"]), /permissions/);
    assert.throws(() => template("kestrel", [], ["clusterr.natsUrl=nats://x:4222"]), /clusterr/);
  });

  it("renders objects that validate against the Kubernetes schemas", async () => {
    for (const [name, r] of scenarios) {
      assert.ok(r.objects.length >= 7, name);
      for (const o of r.objects) {
        const Model = await modelOf(o["apiVersion"], o["kind"]);
        assert.doesNotThrow(() => new Model(o).validate(), `${name}: ${o["kind"]} ${o["metadata"]?.name}`);
        if (o["kind"].startsWith("ClusterRole")) assert.equal(o["metadata"].namespace, undefined, name);
        else assert.ok(o["metadata"].namespace, `${name}: ${o["kind"]} ${o["metadata"].name} has no namespace`);
      }
    }
  });

  it("mounts config.yaml and every rules file where the command line reads them, rules files in order", () => {
    for (const [name, r] of scenarios) {
      const files = commandFiles(r);
      assert.equal(files.config, "/etc/kestrel/config.yaml", name);
      assert.ok(mountedContent(r, files.config), `${name}: ${files.config} is not mounted`);
      for (const f of files.rules) assert.ok(mountedContent(r, f), `${name}: ${f} is not mounted`);
      // /tmp is writable (read-only root filesystem)
      const tmp = (container(r)["volumeMounts"] as Obj[]).find((m) => m["mountPath"] === "/tmp");
      assert.ok(tmp && deployment(r)["spec"].template.spec.volumes.some((v: Obj) => v["name"] === tmp["name"] && v["emptyDir"]), name);
    }
    assert.deepEqual(commandFiles(get("rules-files")).rules, [
      "/etc/kestrel/rules/rules.yaml",
      "/etc/kestrel/rules/10-shells.yaml",
      "/etc/kestrel/rules/20-logs.yaml",
    ]);
    assert.deepEqual(commandFiles(get("defaults")).rules, ["/etc/kestrel/rules/rules.yaml"]);
    // existingSecret: the Secret of the user, no rendered config
    const existing = get("existing-secret");
    assert.equal(all(existing, "Secret").length, 0);
    assert.equal(mountedContent(existing, "/etc/kestrel/config.yaml"), "(Secret kestrel-config-custom, key config.yaml)");
  });

  it("runs Kestrel's image as a non-root user with a read-only root, no capabilities and RuntimeDefault seccomp", () => {
    for (const [name, r] of scenarios) {
      const c = container(r);
      assert.equal(c["image"], "ghcr.io/falco-kestrel/kestrel:0.1.0", name);
      const sc = c["securityContext"] as Obj;
      assert.equal(sc["runAsNonRoot"], true, name);
      assert.equal(sc["readOnlyRootFilesystem"], true, name);
      assert.equal(sc["allowPrivilegeEscalation"], false, name);
      assert.deepEqual(sc["capabilities"], { drop: ["ALL"] }, name);
      assert.deepEqual(sc["seccompProfile"], { type: "RuntimeDefault" }, name);
    }
  });

  it("probes /healthz on the intake port (HTTPS with TLS; a TCP connection with mutual TLS)", () => {
    for (const [name, r] of scenarios) {
      const c = container(r);
      const port = (c["ports"] as Obj[]).find((p) => p["name"] === "http");
      assert.equal(port?.["containerPort"], 2803, name);
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        if (name === "secured") assert.deepEqual(c[probe].tcpSocket, { port: "http" }, `${name} ${probe}`);
        else assert.deepEqual(c[probe].httpGet, { path: "/healthz", port: "http", scheme: "HTTP" }, `${name} ${probe}`);
      }
    }
    const tlsOnly = template("kestrel", [], ["tls.existingSecret=kestrel-tls"]);
    assert.deepEqual(container(tlsOnly)["readinessProbe"].httpGet, { path: "/healthz", port: "http", scheme: "HTTPS" });
  });

  it("renders a config.yaml that Kestrel loads, Talon's keys with Talon's meaning (and its faults fixed)", async () => {
    const talon = await loadRenderedConfig(configText(get("talon-values")));
    assert.equal(talon.listen_port, 2803);
    assert.equal(talon.watch_rules, false); // Talon's `default true` turned false into true
    assert.equal(talon.print_all_events, true);
    assert.deepEqual(talon.deduplication, { leader_election: true, time_window_seconds: 10 });
    assert.deepEqual(talon.default_notifiers, ["k8sevents", "slack"]);
    assert.equal(talon.otel.collector_endpoint, "otel-collector.monitoring.svc");
    assert.equal(talon.otel.traces_enabled, true);
    assert.equal(talon.otel.collector_use_insecure_grpc, true);
    const n = talon.notifiers as Obj;
    assert.equal(n["slack"].webhook_url, "https://hooks.slack.com/services/T000/B000/XXXX");
    assert.equal(n["slack"].format, "short");
    assert.equal(n["webhook"].url, "http://receiver.monitoring.svc:8080/talon");
    assert.equal(n["smtp"].host_port, "smtp.example.com:587");
    assert.equal(n["smtp"].tls, true);
    assert.equal(n["loki"].host_port, "http://loki.monitoring.svc:3100"); // Talon's chart read loki.url
    assert.deepEqual(n["loki"].custom_headers, { "X-Scope-Team": "secops" });
    assert.equal(n["loki"].tenant, "security");
    // Talon's chart read these from loki.*
    assert.equal(n["elasticsearch"].create_index_template, false);
    assert.equal(n["elasticsearch"].number_of_shards, 3);
    assert.equal(n["elasticsearch"].number_of_replicas, 2);
    assert.equal(talon.aws.access_key, "AKIAIOSFODNN7EXAMPLE"); // from the misspelt accesKey
    assert.equal(talon.aws.role_arn, "arn:aws:iam::123456789012:role/talon");
    assert.equal(talon.minio.use_ssl, true);
    assert.equal(talon.minio.endpoint, "minio.storage.svc:9000");

    // Talon's defaults: its empty notifiers are left out (Kestrel would refuse them), k8sevents stays.
    const defaults = await loadRenderedConfig(configText(get("talon-defaults")));
    assert.deepEqual(defaults.default_notifiers, ["k8sevents"]);
    assert.deepEqual(Object.keys(defaults.notifiers).sort(), ["k8sevents"]);
    assert.equal(defaults.aws.access_key, undefined);
    await loadRenderedConfig(configText(get("defaults")));
    // Kestrel's own additions: NATS, tokens and TLS files where the pod mounts them
    const secured = await loadRenderedConfig(configText(get("secured")));
    assert.equal(secured.cluster.nats_url, "nats://nats.nats.svc:4222");
    assert.equal(secured.auth.tokens_file, "/etc/kestrel/tokens/tokens");
    assert.deepEqual(secured.tls, {
      cert_file: "/etc/kestrel/tls/tls.crt",
      key_file: "/etc/kestrel/tls/tls.key",
      client_ca_file: "/etc/kestrel/client-ca/ca.crt",
    });
    for (const file of [secured.auth.tokens_file, secured.tls.cert_file, secured.tls.key_file, secured.tls.client_ca_file]) {
      assert.ok(mountedContent(get("secured"), file), `${file} is not mounted`);
    }
    // the container's environment: Talon's extraEnv after Kestrel's downward-API variables
    const env = container(get("talon-values"))["env"] as Obj[];
    assert.deepEqual(
      env.map((e) => e["name"]),
      ["POD_NAME", "NAMESPACE", "LOG_LEVEL", "AWS_REGION"],
    );
    assert.equal(env.find((e) => e["name"] === "LOG_LEVEL")?.["value"], "warning");
    assert.equal(deployment(get("talon-values"))["spec"].template.spec.enableServiceLinks, false);
  });

  it("appends config.rulesOverride to the rules, merges rulesFiles in order, and Kestrel compiles them", () => {
    const talon = compiledRules(get("talon-defaults"));
    assert.deepEqual(
      talon.rules.map((r) => r.name),
      ["Terminal shell in container"],
    );
    const talonValues = compiledRules(get("talon-values"));
    assert.deepEqual(
      talonValues.rules.map((r) => r.name),
      ["Terminal shell in container", "Sensitive file read"],
    );
    const terminate = talonValues.rules[1]!.actions[0]!;
    assert.equal(terminate.actionnerName, "kubernetes:terminate");
    assert.equal((terminate.spec.parameters as Obj)["grace_period_seconds"], 20); // from rulesOverride
    const files = compiledRules(get("rules-files"));
    assert.deepEqual(
      files.rules.map((r) => [r.name, r.actions.map((a) => a.actionnerName)]),
      [
        ["Terminal shell in container", ["kubernetes:label"]],
        ["Sensitive file read", ["kubernetes:label", "kubernetes:log"]],
      ],
    );
    // Talon's later customRules (a map of files) come after rules.yaml, by name
    const custom = template(
      "kestrel",
      [],
      [
        "customRules.b\\.yaml=- rule: B\n  match: {}\n  actions: [{action: Terminate Pod}]",
        "customRules.a\\.yaml=- action: A\n  actionner: kubernetes:cordon",
      ],
    );
    assert.deepEqual(commandFiles(custom).rules, [
      "/etc/kestrel/rules/rules.yaml",
      "/etc/kestrel/rules/a.yaml",
      "/etc/kestrel/rules/b.yaml",
    ]);
    compiledRules(custom);
  });

  it("rolls the pods when the rules or the config change, through checksums of the rendered content", () => {
    const annotations = (sets: string[]) => deployment(template("kestrel", [], sets))["spec"].template.metadata.annotations as Obj;
    const base = annotations([]);
    assert.match(base["checksum/rules"], /^[0-9a-f]{64}$/);
    assert.match(base["checksum/config"], /^[0-9a-f]{64}$/);
    const override = annotations([
      "config.rulesOverride=- action: Terminate Pod\n  actionner: kubernetes:terminate\n  parameters: {grace_period_seconds: 5}\n",
    ]);
    assert.notEqual(override["checksum/rules"], base["checksum/rules"]);
    assert.equal(override["checksum/config"], base["checksum/config"]);
    const moreFiles = annotations(["rulesFiles[0].name=x.yaml", "rulesFiles[0].content=- action: X\n  actionner: kubernetes:cordon\n"]);
    assert.notEqual(moreFiles["checksum/rules"], base["checksum/rules"]);
    const config = annotations(["config.deduplication.timeWindowSeconds=30"]);
    assert.notEqual(config["checksum/config"], base["checksum/config"]);
    assert.equal(config["checksum/rules"], base["checksum/rules"]);
    assert.deepEqual(annotations([]), base); // deterministic
    // Kestrel's hot reload instead: no rules checksum, watch_rules on
    const reload = deployment(get("rules-files"))["spec"].template.metadata.annotations as Obj;
    assert.equal(reload["checksum/rules"], undefined);
    assert.ok(reload["checksum/config"]);
    assert.throws(() => template("kestrel", [], ["rulesUpdate=reload", "config.watchRules=false"]), /watchRules/);
    // Talon's podAnnotations are pod annotations (Talon's chart put them among the labels)
    const talonPod = deployment(get("talon-values"))["spec"].template.metadata as Obj;
    assert.equal(talonPod["annotations"].team, "security");
    assert.equal(talonPod["labels"].team, undefined);
  });

  it("grants exactly what the rules need, from the plugins' permission lines", async () => {
    for (const name of ["defaults", "rules-files", "replicas"]) {
      const r = get(name);
      const config = parse(configText(r)) as Obj;
      const expected = needed(compiledRules(r), config["default_notifiers"] ?? []);
      assert.deepEqual([...grants(find(r, "ClusterRole"))].sort(), [...expected].sort(), name);
    }
    // A rules set that labels pods and reads logs gets no delete, no deployments
    const narrow = grants(find(get("rules-files"), "ClusterRole"));
    assert.ok(narrow.has("/pods: patch") && narrow.has("/pods/log: get"));
    assert.ok(![...narrow].some((g) => g.endsWith(": delete") || g.startsWith("apps/")), [...narrow].join(", "));
    // rbac.permissions=all: every plugin's permissions, as deploy/rbac.yaml
    const deployRbac = parseAllDocuments(await readFile(new URL("../../deploy/rbac.yaml", import.meta.url), "utf8")).map(
      (d) => d.toJS() as Obj,
    );
    const everything = template("kestrel", [], ["rbac.permissions=all"]);
    assert.deepEqual(
      [...grants(find(everything, "ClusterRole"))].sort(),
      [...grants(deployRbac.find((d) => d["kind"] === "ClusterRole")!)].sort(),
    );
    // leader election: a Role on leases in the release's namespace, bound to the service account
    const role = find(get("defaults"), "Role");
    assert.deepEqual([...grants(role)].sort(), [
      "coordination.k8s.io/leases: create",
      "coordination.k8s.io/leases: get",
      "coordination.k8s.io/leases: update",
    ]);
    assert.equal(
      find(get("defaults"), "RoleBinding")["subjects"][0].name,
      deployment(get("defaults"))["spec"].template.spec.serviceAccountName,
    );
    assert.equal(all(template("kestrel", [], ["config.deduplication.leaderElection=false"]), "Role").length, 0);
    // an actionner Kestrel does not have is refused at render time
    assert.throws(
      () => template("kestrel", [], ["rules=- rule: X\n  match: {}\n  actions: [{action: Y, actionner: kubernetes:explode}]"]),
      /kubernetes:explode/,
    );
  });

  it("honours Talon's rbac.<resource> verb lists, granting Calico's real networkpolicies resources", () => {
    const role = find(get("talon-values"), "ClusterRole");
    const g = grants(role);
    for (const v of ["get", "update", "patch", "create"]) {
      assert.ok(g.has(`projectcalico.org/networkpolicies: ${v}`));
      assert.ok(g.has(`crd.projectcalico.org/networkpolicies: ${v}`));
      assert.ok(g.has(`cilium.io/ciliumnetworkpolicies: ${v}`));
    }
    assert.ok(![...g].some((x) => x.includes("caliconetworkpolicies")));
    for (const v of ["get", "update", "patch", "delete", "list"]) assert.ok(g.has(`/pods: ${v}`));
    assert.ok(g.has("coordination.k8s.io/leases: watch"));
    assert.ok(g.has("/pods/eviction: get"));
    // one list narrowed: exactly those verbs
    const narrowed = grants(find(template("kestrel", [TALON_DEFAULTS], ["rbac.pods={get}", "rbac.secrets=null"]), "ClusterRole"));
    assert.ok(narrowed.has("/pods: get") && !narrowed.has("/pods: delete") && ![...narrowed].some((x) => x.startsWith("/secrets")));
  });

  it("deploys Kestrel's image, never Talon's, and says so in the install notes", async () => {
    const c = container(get("talon-defaults"));
    assert.equal(c["image"], "ghcr.io/falco-kestrel/kestrel:0.1.0");
    assert.equal(c["imagePullPolicy"], "Always"); // Talon's pullPolicy is kept
    assert.equal(container(get("talon-values"))["image"], "ghcr.io/falco-kestrel/kestrel:0.1.0");
    assert.equal(
      container(template("kestrel", [], ["image.registry=registry.example.com", "image.repository=sec/kestrel", "image.tag=1.2.3"]))[
        "image"
      ],
      "registry.example.com/sec/kestrel:1.2.3",
    );
    const notes = await renderNotes([TALON_DEFAULTS]);
    assert.match(notes, /does not deploy it: it runs Kestrel's image ghcr\.io\/falco-kestrel\/kestrel:0\.1\.0 instead/);
    assert.match(notes, /falcosecurity\/falco-talon/);
    assert.doesNotMatch(await renderNotes([]), /IMAGE/);
    // what the rules need and Talon's lists leave out is listed
    const missing = await renderNotes([TALON_DEFAULTS], ["rbac.pods={get}"]);
    assert.match(missing, /\/pods: patch/);
  });

  it("runs several replicas with a PodDisruptionBudget, NATS, its Service and NetworkPolicy", async () => {
    const r = get("replicas");
    assert.equal(deployment(r)["spec"].replicas, 3);
    const pdb = find(r, "PodDisruptionBudget");
    assert.equal(pdb["spec"].minAvailable, 2);
    assert.deepEqual(pdb["spec"].selector.matchLabels, deployment(r)["spec"].selector.matchLabels);
    assert.equal(all(get("defaults"), "PodDisruptionBudget").length, 0);
    assert.equal(all(template("kestrel", [], ["replicaCount=2"]), "PodDisruptionBudget").length, 1);
    // cluster.nats_url names the NATS Service
    const config = await loadRenderedConfig(configText(r));
    const nats = find(r, "Service", `${r.release}-nats`);
    assert.equal(config.cluster.nats_url, `nats://${nats["metadata"].name}.${NS}.svc:${nats["spec"].ports[0].port}`);
    const sts = find(r, "StatefulSet", `${r.release}-nats`);
    for (const [k, v] of Object.entries(nats["spec"].selector as Obj)) assert.equal(sts["spec"].template.metadata.labels[k], v);
    assert.ok((sts["spec"].template.spec.containers[0].args as string[]).includes("--jetstream"));
    // only Kestrel's pods reach NATS
    const natsPolicy = find(r, "NetworkPolicy", `${r.release}-nats`);
    assert.deepEqual(natsPolicy["spec"].ingress[0].from, [{ podSelector: { matchLabels: deployment(r)["spec"].selector.matchLabels } }]);
    // the Kestrel Service does not select the NATS pods, and the other way round
    const svc = find(r, "Service", r.release);
    assert.notDeepEqual(svc["spec"].selector, nats["spec"].selector);
    // who may reach :2803
    const policy = find(r, "NetworkPolicy", r.release);
    assert.deepEqual(policy["spec"].podSelector.matchLabels, deployment(r)["spec"].selector.matchLabels);
    assert.deepEqual(policy["spec"].ingress[0].ports, [{ port: "http", protocol: "TCP" }]);
    assert.equal(policy["spec"].ingress[0].from[0].podSelector.matchExpressions[0].values.join(","), "falco,falcosidekick");
  });

  it("renders Talon's serviceMonitor, grafana.dashboards, podSecurityContext, ingress and service keys as Talon's chart does", async () => {
    const r = get("talon-values");
    const svc = find(r, "Service", r.release);
    assert.equal(svc["metadata"].annotations["networking.gke.io/load-balancer-type"], "Internal");
    const sm = find(r, "ServiceMonitor");
    assert.equal(sm["metadata"].labels.release, "prometheus");
    assert.deepEqual(sm["spec"].endpoints[0], {
      port: "http",
      path: "/metrics",
      scheme: "http",
      honorLabels: true,
      interval: "15s",
      scrapeTimeout: "5s",
      tlsConfig: { insecureSkipVerify: false },
      relabelings: [{ sourceLabels: ["__meta_kubernetes_pod_node_name"], targetLabel: "node" }],
    });
    assert.deepEqual(sm["spec"].targetLabels, ["app.kubernetes.io/instance"]);
    assert.deepEqual(sm["spec"].namespaceSelector, { matchNames: [NS] });
    for (const [k, v] of Object.entries(sm["spec"].selector.matchLabels as Obj)) assert.equal(svc["metadata"].labels[k], v);
    assert.ok(svc["spec"].ports.some((p: Obj) => p["name"] === sm["spec"].endpoints[0].port));
    const dash = find(r, "ConfigMap", "falco-talon-grafana-dashboard");
    assert.equal(dash["metadata"].namespace, "monitoring");
    assert.equal(dash["metadata"].labels.grafana_dashboard, "1");
    assert.equal(dash["metadata"].annotations.grafana_dashboard_folder, "security");
    assert.equal(dash["metadata"].annotations["k8s-sidecar-target-directory"], "/tmp/dashboards/security");
    const board = JSON.parse(dash["data"]["kestrel-grafana-dashboard.json"]) as Obj;
    assert.ok(board["panels"].every((p: Obj) => /kestrel_/.test(p["targets"][0].expr)));
    const pod = deployment(r)["spec"].template.spec as Obj;
    assert.equal(pod["securityContext"].runAsUser, 1234);
    assert.equal(pod["securityContext"].fsGroup, 1234);
    assert.equal(pod["priorityClassName"], "system-cluster-critical");
    assert.deepEqual(pod["imagePullSecrets"], [{ name: "regcred" }]);
    assert.equal(pod["tolerations"][0].key, "dedicated");
    assert.equal(pod["nodeSelector"]["kubernetes.io/os"], "linux");
    assert.ok(pod["affinity"].podAntiAffinity);
    assert.deepEqual(container(r)["resources"].limits, { cpu: "500m", memory: "512Mi" });
    const ingress = find(r, "Ingress");
    assert.equal(ingress["spec"].rules[0].host, "talon.example.com");
    assert.deepEqual(ingress["spec"].rules[0].http.paths[0].backend, { service: { name: r.release, port: { name: "http" } } });
    assert.deepEqual(ingress["spec"].tls, [{ hosts: ["talon.example.com"], secretName: "talon-tls" }]);
    // PodSecurityPolicy only where the API serves it (removed in Kubernetes 1.25)
    assert.equal(all(r, "PodSecurityPolicy").length, 0);
    const old = template(
      "kestrel",
      [example("talon-values.yaml")],
      [],
      ["--kube-version", "1.24.0", "--api-versions", "policy/v1beta1/PodSecurityPolicy"],
    );
    const psp = find(old, "PodSecurityPolicy");
    const Psp = await modelOf("policy/v1beta1", "PodSecurityPolicy");
    assert.doesNotThrow(() => new Psp(psp).validate());
    assert.equal(psp["spec"].readOnlyRootFilesystem, true);
    const use = (find(old, "ClusterRole")["rules"] as Obj[]).find((rule) => rule["resources"].includes("podsecuritypolicies"));
    assert.deepEqual(use, { apiGroups: ["policy"], resources: ["podsecuritypolicies"], resourceNames: ["kestrel"], verbs: ["use"] });
  });

  it("wires the Falco chart to the Kestrel Service (Falcosidekick's talon.address, Falco's http_output.url)", async () => {
    const svc = find(get("defaults"), "Service", "kestrel");
    const expected = `${svc["metadata"].name}.${svc["metadata"].namespace}.svc.cluster.local:${svc["spec"].ports[0].port}`;
    const sidekick = parse(await readFile(join(EXAMPLES_DIR, "falco", "falcosidekick.yaml"), "utf8")) as Obj;
    const address = new URL(sidekick["falcosidekick"].config.talon.address as string);
    assert.equal(sidekick["falcosidekick"].enabled, true);
    assert.equal(`${address.hostname}:${address.port}`, expected);
    const direct = parse(await readFile(join(EXAMPLES_DIR, "falco", "falco-http-output.yaml"), "utf8")) as Obj;
    const url = new URL(direct["falco"].http_output.url as string);
    assert.equal(direct["falco"].http_output.enabled, true);
    assert.equal(direct["falco"].json_output, true);
    assert.equal(`${url.hostname}:${url.port}`, expected);
    // the port the Service forwards to is the one Kestrel listens on
    const target = (container(get("defaults"))["ports"] as Obj[]).find((p) => p["name"] === svc["spec"].ports[0].targetPort);
    assert.equal(target?.["containerPort"], (parse(configText(get("defaults"))) as Obj)["listen_port"]);
  });

  it("keeps files/permissions.yaml and deploy/kubernetes/ current (regenerate: npm run manifests)", async () => {
    assert.equal(await readFile(CHART_PERMISSIONS, "utf8"), renderChartPermissions());
    const manifests = renderKubernetesManifests(HELM!);
    const committed = (await readdir(MANIFESTS_DIR)).filter((f) => f.endsWith(".yaml")).sort();
    assert.deepEqual(committed, [...manifests.keys()].sort());
    for (const [file, content] of manifests) assert.equal(await readFile(new URL(file, MANIFESTS_DIR), "utf8"), content, file);
  });

  describe("applied to the Kubernetes API test server", () => {
    let kube: KubeApiServer;
    before(async () => {
      kube = await startKubeApi({ namespaces: ["default", "kube-system", NS, "monitoring"] });
    });
    after(async () => {
      await kube?.close();
    });

    it("creates every rendered object through client-node's KubernetesObjectApi", async () => {
      const client = k8s.KubernetesObjectApi.makeApiClient(kube.kubeConfig());
      for (const [name, r] of scenarios) {
        for (const o of r.objects) {
          const created = (await client.create(o as k8s.KubernetesObject)) as Obj;
          assert.ok(created["metadata"].uid, `${name}: ${o["kind"]} ${o["metadata"].name}`);
        }
        const stored = kube.get("apps/v1", "Deployment", NS, r.release);
        assert.deepEqual(stored?.["spec"].template.spec.containers[0].args, container(r)["args"], name);
      }
      assert.ok(kube.get("monitoring.coreos.com/v1", "ServiceMonitor", NS, "kestrel-talon-values"));
      assert.ok(kube.get("policy/v1", "PodDisruptionBudget", NS, "kestrel-replicas"));
      assert.ok(kube.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", undefined, "kestrel"));
    });
  });

  /** NOTES.txt, rendered by `helm template` from a copy of the chart where it is the body of a ConfigMap
   * (helm template does not render NOTES.txt; helm install --dry-run needs a cluster). */
  async function renderNotes(values: readonly string[], sets: readonly string[] = []): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "kestrel-notes-"));
    try {
      const chart = join(dir, "kestrel");
      await cp(CHART_DIR, chart, { recursive: true });
      const notes = await readFile(join(chart, "templates", "NOTES.txt"), "utf8");
      await rm(join(chart, "templates", "NOTES.txt"));
      await writeFile(join(chart, "templates", "_notes.tpl"), `{{- define "test.notes" -}}\n${notes}{{- end -}}\n`);
      await writeFile(
        join(chart, "templates", "notes.yaml"),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "test.notes" . | toJson }}\n',
      );
      const args = ["template", "kestrel", chart, "--namespace", NS, "--show-only", "templates/notes.yaml"];
      for (const v of values) args.push("--values", v);
      for (const s of sets) args.push("--set", s);
      return (parse(runHelm(HELM!, args)) as Obj)["data"].notes as string;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});
