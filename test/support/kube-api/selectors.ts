// Label and field selectors with kube-apiserver's grammar and its per-kind list of selectable fields;
// malformed selectors and unsupported field labels are 400s there, so they are here too.
import type { ResourceType } from "./resources.ts";
import { badRequest } from "./status.ts";
import type { KubeObject } from "./types.ts";

export type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" }
  | { key: string; op: "gt" | "lt"; value: number };

const SPECIAL = new Set([" ", "\t", ",", "=", "!", "(", ")", "<", ">"]);

class SelectorLexer {
  private pos = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  skipSpace(): void {
    while (this.pos < this.text.length && (this.text[this.pos] === " " || this.text[this.pos] === "\t")) this.pos++;
  }

  peek(): string {
    this.skipSpace();
    const rest = this.text.slice(this.pos);
    for (const op of ["==", "!=", "=", "!", "(", ")", ",", "<", ">"]) if (rest.startsWith(op)) return op;
    return rest === "" ? "" : "identifier";
  }

  take(expected: string): void {
    const found = this.peek();
    if (found !== expected) throw badRequest(`unable to parse requirement: found '${found}', expected: '${expected}'`);
    this.pos += expected.length;
  }

  identifier(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && !SPECIAL.has(this.text[this.pos]!)) this.pos++;
    if (start === this.pos) throw badRequest(`unable to parse requirement: found '${this.peek()}', expected: identifier`);
    return this.text.slice(start, this.pos);
  }

  /** An identifier that may be empty (`app=`), as label values can be. */
  value(): string {
    const next = this.peek();
    return next === "identifier" ? this.identifier() : "";
  }
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): string {
  const slash = key.lastIndexOf("/");
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (name === "" || name.length > 63 || !LABEL_VALUE.test(name)) {
    throw badRequest(
      `unable to parse requirement: values[0][${key}]: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.'`,
    );
  }
  return key;
}

function checkValue(key: string, value: string): string {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw badRequest(
      `unable to parse requirement: values[0][${key}]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  }
  return value;
}

export function parseLabelSelector(text: string | undefined): LabelRequirement[] {
  if (text === undefined || text.trim() === "") return [];
  const lex = new SelectorLexer(text);
  const reqs: LabelRequirement[] = [];
  for (;;) {
    if (lex.peek() === "!") {
      lex.take("!");
      reqs.push({ key: checkKey(lex.identifier()), op: "!exists" });
    } else {
      const key = checkKey(lex.identifier());
      const next = lex.peek();
      if (next === "=" || next === "==" || next === "!=") {
        lex.take(next);
        reqs.push({ key, op: next === "!=" ? "!=" : "=", value: checkValue(key, lex.value()) });
      } else if (next === "<" || next === ">") {
        lex.take(next);
        const raw = lex.identifier();
        const value = Number(raw);
        if (!Number.isInteger(value))
          throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key, op: next === ">" ? "gt" : "lt", value });
      } else if (next === "identifier") {
        const word = lex.identifier();
        if (word !== "in" && word !== "notin")
          throw badRequest(`unable to parse requirement: found '${word}', expected: in, notin, =, ==, !=, gt, lt`);
        lex.take("(");
        const values: string[] = [];
        while (lex.peek() !== ")") {
          values.push(checkValue(key, lex.value()));
          if (lex.peek() === ",") lex.take(",");
          else break;
        }
        lex.take(")");
        reqs.push({ key, op: word, values });
      } else {
        reqs.push({ key, op: "exists" });
      }
    }
    const sep = lex.peek();
    if (sep === "") break;
    lex.take(",");
  }
  return reqs;
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((req): boolean => {
    const has = Object.hasOwn(l, req.key);
    const v = l[req.key];
    switch (req.op) {
      case "=":
        return has && v === req.value;
      case "!=":
        return !has || v !== req.value;
      case "in":
        return has && req.values.includes(v!);
      case "notin":
        return !has || !req.values.includes(v!);
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "gt":
        return has && Number.isInteger(Number(v)) && Number(v) > req.value;
      default:
        return has && Number.isInteger(Number(v)) && Number(v) < req.value;
    }
  });
}

/** A metav1.LabelSelector ({matchLabels, matchExpressions}) as requirements; used for PDBs. */
export function fromLabelSelectorObject(
  sel: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined,
): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(sel?.matchLabels ?? {})) reqs.push({ key, op: "=", value });
  for (const e of sel?.matchExpressions ?? []) {
    if (e.operator === "In") reqs.push({ key: e.key, op: "in", values: e.values ?? [] });
    else if (e.operator === "NotIn") reqs.push({ key: e.key, op: "notin", values: e.values ?? [] });
    else if (e.operator === "Exists") reqs.push({ key: e.key, op: "exists" });
    else if (e.operator === "DoesNotExist") reqs.push({ key: e.key, op: "!exists" });
  }
  return reqs;
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

type Getter = (o: KubeObject) => unknown;

const path =
  (...keys: string[]): Getter =>
  (o) => {
    let cur: unknown = o;
    for (const k of keys) cur = cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined;
    return cur;
  };

const EVENT_FIELDS: Record<string, Getter> = {
  "involvedObject.kind": path("involvedObject", "kind"),
  "involvedObject.namespace": path("involvedObject", "namespace"),
  "involvedObject.name": path("involvedObject", "name"),
  "involvedObject.uid": path("involvedObject", "uid"),
  "involvedObject.apiVersion": path("involvedObject", "apiVersion"),
  "involvedObject.resourceVersion": path("involvedObject", "resourceVersion"),
  "involvedObject.fieldPath": path("involvedObject", "fieldPath"),
  reason: path("reason"),
  reportingComponent: path("reportingComponent"),
  source: path("source", "component"),
  type: path("type"),
};

// Which fields each kind lets clients select on (kube-apiserver's GetAttrs / field label conversion).
const FIELDS: Record<string, Record<string, Getter>> = {
  "v1/Pod": {
    "spec.nodeName": path("spec", "nodeName"),
    "spec.restartPolicy": path("spec", "restartPolicy"),
    "spec.schedulerName": path("spec", "schedulerName"),
    "spec.serviceAccountName": path("spec", "serviceAccountName"),
    "spec.hostNetwork": (o) => String(o.spec?.hostNetwork === true),
    "status.phase": path("status", "phase"),
    "status.podIP": path("status", "podIP"),
    "status.nominatedNodeName": path("status", "nominatedNodeName"),
  },
  "v1/Node": { "spec.unschedulable": (o) => String(o.spec?.unschedulable === true) },
  "v1/Namespace": { "status.phase": path("status", "phase") },
  "v1/Secret": { type: path("type") },
  "v1/Event": EVENT_FIELDS,
  "events.k8s.io/v1/Event": EVENT_FIELDS,
  "apps/v1/ReplicaSet": { "status.replicas": path("status", "replicas") },
  "batch/v1/Job": { "status.successful": path("status", "successful") },
};

function gettersFor(rt: ResourceType): Record<string, Getter> {
  const apiVersion = rt.group === "" ? rt.version : `${rt.group}/${rt.version}`;
  return {
    "metadata.name": path("metadata", "name"),
    "metadata.namespace": path("metadata", "namespace"),
    ...FIELDS[`${apiVersion}/${rt.kind}`],
  };
}

export function parseFieldSelector(text: string | undefined, rt: ResourceType): FieldRequirement[] {
  if (text === undefined || text.trim() === "") return [];
  const getters = gettersFor(rt);
  const reqs: FieldRequirement[] = [];
  for (const term of splitUnescaped(text, ",")) {
    const m = /^(.*?)(==|!=|=)(.*)$/.exec(term);
    if (m === null) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    const field = m[1]!.trim();
    if (!Object.hasOwn(getters, field)) {
      throw badRequest(
        rt.custom
          ? `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`
          : `field label not supported: ${field}`,
      );
    }
    reqs.push({ field, op: m[2] === "!=" ? "!=" : "=", value: unescapeValue(m[3]!.trim()) });
  }
  return reqs;
}

function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && i + 1 < text.length) {
      cur += c + text[++i];
    } else if (c === sep) {
      parts.push(cur);
      cur = "";
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts.filter((p) => p.trim() !== "");
}

function unescapeValue(v: string): string {
  return v.replace(/\\(.)/g, "$1");
}

export function matchesFields(reqs: readonly FieldRequirement[], rt: ResourceType, obj: KubeObject): boolean {
  if (reqs.length === 0) return true;
  const getters = gettersFor(rt);
  return reqs.every((req) => {
    const raw = getters[req.field]!(obj);
    const v = raw === undefined || raw === null ? "" : String(raw);
    return req.op === "=" ? v === req.value : v !== req.value;
  });
}

export interface Selection {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

export function parseSelection(rt: ResourceType, query: URLSearchParams): Selection {
  return {
    labels: parseLabelSelector(query.get("labelSelector") ?? undefined),
    fields: parseFieldSelector(query.get("fieldSelector") ?? undefined, rt),
  };
}

export function selects(sel: Selection, rt: ResourceType, obj: KubeObject): boolean {
  return matchesLabels(sel.labels, obj.metadata.labels) && matchesFields(sel.fields, rt, obj);
}
