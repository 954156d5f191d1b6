// Deterministic generator of a Kestrel rules file (Falco Talon syntax) with K rules that react to the
// Falco rules of the corpus, for the benchmarks. Every rule is `dry_run: true` and runs `local:command`
// with `/bin/true`: the action is dispatched but not executed, so what is measured is Kestrel's own path.
//
// About a third of the enabled corpus rules are "covered" (a seeded choice); the bench rules name them,
// or name Falco rules that never fire here (custom rules of the user, rules disabled by default), and add
// the criteria real rules files use: `priority: ">=Warning"`-style comparisons, tags groups, output_fields
// conditions (`k8s.ns.name!=kube-system`, …) and sometimes `source`. Some rules name no Falco rule at
// all and select on tags (+ priority / output fields): those are tested against every event. Their tags
// are chosen so that they only ever select covered rules, which keeps the matched fraction of the events
// near 30 % whatever K is.
import { type CorpusRule, createRng, defaultSeed, enabledRules, loadCorpus, type Rng, shuffled } from "./events.ts";

export interface RulesOptions {
  /** Default 42 (or BENCH_SEED). */
  seed?: number;
  corpus?: readonly CorpusRule[];
  /** Fraction of the enabled corpus rules that bench rules may select; default 0.36. */
  coverage?: number;
}

export interface GeneratedRules {
  readonly yaml: string;
  readonly count: number;
  /** Falco rule names the bench rules can select. */
  readonly covered: readonly string[];
  /** Rules without `match.rules` (tested against every event). */
  readonly unnamed: number;
}

export const BENCH_ACTION = "Bench no-op";

// Talon's validation: tags `(?i)^[a-z_0-9.]*[a-z0-9]$`, output field keys without `_`, `-` or `/`.
const VALID_TAG = /^[a-z_0-9.]*[a-z0-9]$/i;
const PRIORITY_FILTERS = [">=Notice", ">=Warning", ">=Warning", ">=Error", ">Informational", "<=Critical", ">=Debug"];

/** Output-field condition groups per event source (items of `match.output_fields`, ORed). */
const FIELD_CONDITIONS: Record<string, readonly (readonly string[])[]> = {
  syscall: [
    ["k8s.ns.name!=kube-system"],
    ["k8s.ns.name!=kube-system, k8s.ns.name!=falco"],
    ["k8s.ns.name!=kube-system, k8s.ns.name!=monitoring, k8s.ns.name!=falco"],
    ["k8s.ns.name=prod", "k8s.ns.name=payments", "k8s.ns.name=backend"],
    ["user.name=root, k8s.ns.name!=kube-system"],
    ["container.id!=host"],
  ],
  k8s_audit: [
    ["ka.target.namespace!=kube-system"],
    ["ka.verb=create", "ka.verb=update", "ka.verb=patch"],
    ["ka.user.name!=kubernetes-admin"],
  ],
  aws_cloudtrail: [["ct.region=us-east-1", "ct.region=us-west-2"], ["ct.user!=terraform"]],
};

const CUSTOM_TOPICS = [
  "Outbound connection to mining pool",
  "Unexpected kubectl in production",
  "Write below /opt/app",
  "Suspicious curl to metadata service",
  "Unexpected DNS tunnel",
  "Package manager in running container",
  "Java process spawned shell",
  "Reverse shell via socat",
  "Access to vault token",
  "Modified nginx config",
];

function yamlString(s: string): string {
  return JSON.stringify(s);
}

function yamlList(items: readonly string[]): string {
  return `[${items.map(yamlString).join(", ")}]`;
}

/** Tag groups (comma-separated) that select only covered rules: pairs of tags of `rule`, or all its tags. */
function selectiveTagGroups(rule: CorpusRule, all: readonly CorpusRule[], covered: ReadonlySet<string>): string[] {
  const tags = [...new Set(rule.tags)].filter((t) => VALID_TAG.test(t));
  const selects = (group: readonly string[]): boolean => all.every((r) => covered.has(r.rule) || !group.every((t) => r.tags.includes(t)));
  const groups: string[] = [];
  for (let i = 0; i < tags.length; i++) {
    for (let j = i + 1; j < tags.length; j++) {
      const pair = [tags[i]!, tags[j]!];
      if (selects(pair)) groups.push(pair.join(", "));
    }
  }
  if (groups.length === 0 && tags.length > 0 && selects(tags)) groups.push(tags.join(", "));
  return groups;
}

/** Generates the rules YAML with `count` rules. */
export function generateRules(count: number, options: RulesOptions = {}): GeneratedRules {
  const rng: Rng = createRng((options.seed ?? defaultSeed()) ^ 0x5eed);
  const corpus = options.corpus ?? loadCorpus();
  const enabled = enabledRules(corpus);
  const order = shuffled(enabled, rng);
  const coveredRules = order.slice(0, Math.max(1, Math.round(enabled.length * (options.coverage ?? 0.36))));
  const covered = new Set(coveredRules.map((r) => r.rule));
  const bySource = new Map(corpus.map((r) => [r.rule, r.source]));
  // Names that never fire in the bench: the user's own Falco rules, and corpus rules disabled by default.
  const silent = [
    ...CUSTOM_TOPICS.flatMap((t) => [t, `${t} (acme)`, `[ACME] ${t}`]),
    ...corpus.filter((r) => !r.enabled).map((r) => r.rule),
  ];
  const tagGroups = new Map(coveredRules.map((r) => [r.rule, selectiveTagGroups(r, enabled, covered)]));
  const unnamedCandidates = coveredRules.filter((r) => (tagGroups.get(r.rule) ?? []).length > 0);

  const lines: string[] = [
    "# Generated by bench/rules.ts: benchmark rules, all dry runs. Do not edit; regenerate.",
    "",
    `- action: ${BENCH_ACTION}`,
    "  description: Does nothing (and dry_run rules do not even run it)",
    "  actionner: local:command",
    "  parameters:",
    `    command: ["/bin/true"]`,
    "",
  ];
  let unnamed = 0;
  // Covered rules are named in turn first, so that even a small K selects every covered rule.
  let nextCovered = 0;
  for (let i = 0; i < count; i++) {
    const n = String(i + 1).padStart(4, "0");
    const match: string[] = [];
    let source: string;
    let title: string;
    if (unnamedCandidates.length > 0 && rng.chance(0.15)) {
      unnamed++;
      const target = rng.pick(unnamedCandidates);
      source = target.source;
      const groups = shuffled(tagGroups.get(target.rule)!, rng).slice(0, 1 + rng.int(2));
      title = `tags ${groups[0]}`;
      match.push(`    tags: ${yamlList(groups)}`);
      if (rng.chance(0.6)) match.push(`    priority: ${yamlString(rng.pick(PRIORITY_FILTERS))}`);
      if (rng.chance(0.4)) match.push(`    output_fields: ${yamlList(rng.pick(FIELD_CONDITIONS[source] ?? FIELD_CONDITIONS["syscall"]!))}`);
      if (rng.chance(0.3)) match.push(`    source: ${source}`);
    } else {
      const names: string[] = [];
      const first = nextCovered < coveredRules.length ? coveredRules[nextCovered++]! : rng.chance(0.5) ? rng.pick(coveredRules) : undefined;
      if (first !== undefined) names.push(first.rule);
      const more = (first === undefined ? 1 : 0) + rng.int(3);
      for (let k = 0; k < more; k++) names.push(rng.chance(0.35) ? rng.pick(coveredRules).rule : rng.pick(silent));
      const unique = [...new Set(names)];
      source = bySource.get(unique[0]!) ?? "syscall";
      title = unique[0]!;
      match.push(`    rules: ${yamlList(unique)}`);
      if (rng.chance(0.35)) match.push(`    priority: ${yamlString(rng.pick(PRIORITY_FILTERS))}`);
      if (first !== undefined && rng.chance(0.2)) {
        const tags = first.tags.filter((t) => VALID_TAG.test(t));
        if (tags.length > 0)
          match.push(
            `    tags: ${yamlList([
              shuffled(tags, rng)
                .slice(0, 1 + rng.int(2))
                .join(", "),
            ])}`,
          );
      }
      const sameSource = unique.every((name) => (bySource.get(name) ?? "syscall") === source);
      if (sameSource && rng.chance(0.5))
        match.push(`    output_fields: ${yamlList(rng.pick(FIELD_CONDITIONS[source] ?? FIELD_CONDITIONS["syscall"]!))}`);
      if (sameSource && rng.chance(0.1)) match.push(`    source: ${source}`);
    }
    lines.push(`- rule: ${yamlString(`Bench ${n}: ${title}`)}`);
    lines.push(`  description: Generated benchmark rule ${n}`);
    lines.push("  dry_run: true");
    if (rng.chance(0.05)) lines.push("  continue: false");
    lines.push("  match:", ...match);
    lines.push("  actions:", `    - action: ${BENCH_ACTION}`);
    if (rng.chance(0.2)) {
      lines.push(
        `    - action: ${yamlString(`Bench record ${n}`)}`,
        "      actionner: local:command",
        "      parameters:",
        `        command: ["/bin/true", "\${RULE}", "\${K8S_POD_NAME}"]`,
      );
    }
    lines.push("");
  }
  return { yaml: lines.join("\n"), count, covered: [...covered], unnamed };
}

// `node bench/rules.ts [count]` prints a rules file.
if (import.meta.main) {
  const count = Number(process.argv[2] ?? "100");
  process.stdout.write(generateRules(Number.isFinite(count) ? count : 100).yaml);
}
