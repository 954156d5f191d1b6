// The subset of kube-apiserver validation that a client can trip over: object names, label syntax, the
// fields of events.k8s.io events, leases, pod spec immutability and ephemeral container rules. Each
// failure is the 422 Invalid the real server sends.
import { apiVersionOf, type ResourceType } from "./resources.ts";
import { type FieldError, invalid } from "./status.ts";
import { sameJson } from "./store.ts";
import type { KubeObject } from "./types.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_NAME_RULES = new Set(["namespaces", "services"]);

function nameErrors(rt: ResourceType, name: string): FieldError[] {
  if (LABEL_NAME_RULES.has(rt.plural) && rt.group === "") {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) {
      return [
        {
          type: "FieldValueInvalid",
          field: "metadata.name",
          value: name,
          detail:
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        },
      ];
    }
    return [];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return [
      {
        type: "FieldValueInvalid",
        field: "metadata.name",
        value: name,
        detail:
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      },
    ];
  }
  return [];
}

function qualifiedNameErrors(field: string, key: string): FieldError[] {
  const slash = key.indexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  const errors: FieldError[] = [];
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    errors.push({
      type: "FieldValueInvalid",
      field,
      value: key,
      detail:
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    });
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    errors.push({
      type: "FieldValueInvalid",
      field,
      value: key,
      detail:
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    });
  }
  return errors;
}

function metadataErrors(rt: ResourceType, obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const meta = obj.metadata;
  if (!meta.name && !meta.generateName)
    errors.push({ type: "FieldValueRequired", field: "metadata.name", detail: "name or generateName is required" });
  else if (meta.name) errors.push(...nameErrors(rt, meta.name));
  for (const [k, v] of Object.entries((meta.labels ?? {}) as Record<string, unknown>)) {
    errors.push(...qualifiedNameErrors("metadata.labels", k));
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) {
      errors.push({
        type: "FieldValueInvalid",
        field: "metadata.labels",
        value: v,
        detail:
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      });
    }
  }
  for (const k of Object.keys((meta.annotations ?? {}) as Record<string, unknown>))
    errors.push(...qualifiedNameErrors("metadata.annotations", k.toLowerCase()));
  return errors;
}

function kindErrors(rt: ResourceType, obj: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const key = `${apiVersionOf(rt)}/${rt.kind}`;
  if (key === "v1/Pod") {
    const containers = obj.spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0)
      errors.push({ type: "FieldValueRequired", field: "spec.containers", detail: "" });
    else {
      containers.forEach((c: { name?: string; image?: string }, i: number) => {
        if (!c.name) errors.push({ type: "FieldValueRequired", field: `spec.containers[${i}].name`, detail: "" });
        if (!c.image) errors.push({ type: "FieldValueRequired", field: `spec.containers[${i}].image`, detail: "" });
      });
    }
  } else if (key === "v1/Event") {
    const ns = obj.involvedObject?.namespace;
    if (ns && obj.metadata.namespace && ns !== obj.metadata.namespace) {
      errors.push({ type: "FieldValueInvalid", field: "involvedObject.namespace", value: ns, detail: "does not match event.namespace" });
    }
  } else if (key === "events.k8s.io/v1/Event") {
    if (!obj.eventTime) errors.push({ type: "FieldValueRequired", field: "eventTime", detail: "" });
    if (obj.type !== "Normal" && obj.type !== "Warning")
      errors.push({
        type: "FieldValueInvalid",
        field: "type",
        value: obj.type ?? "",
        detail: "has invalid value: must be Normal or Warning",
      });
    if (!obj.reportingController) errors.push({ type: "FieldValueRequired", field: "reportingController", detail: "" });
    if (!obj.reportingInstance) errors.push({ type: "FieldValueRequired", field: "reportingInstance", detail: "" });
    if (!obj.action) errors.push({ type: "FieldValueRequired", field: "action", detail: "" });
    if (!obj.reason) errors.push({ type: "FieldValueRequired", field: "reason", detail: "" });
    if (typeof obj.note === "string" && obj.note.length > 1024)
      errors.push({ type: "FieldValueInvalid", field: "note", value: "", detail: "can have at most 1024 characters" });
  } else if (key === "projectcalico.org/v3/NetworkPolicy") {
    // Calico's API server: rule actions and policy types from their closed sets.
    for (const dir of ["ingress", "egress"] as const) {
      (Array.isArray(obj.spec?.[dir]) ? (obj.spec[dir] as { action?: unknown }[]) : []).forEach((rule, i) => {
        if (!CALICO_ACTIONS.includes(rule.action as string)) {
          errors.push({
            type: "FieldValueNotSupported",
            field: `spec.${dir}[${i}].action`,
            value: rule.action ?? "",
            detail: `supported values: ${CALICO_ACTIONS.map((a) => `"${a}"`).join(", ")}`,
          });
        }
      });
    }
    for (const t of Array.isArray(obj.spec?.types) ? (obj.spec.types as unknown[]) : []) {
      if (t !== "Ingress" && t !== "Egress")
        errors.push({
          type: "FieldValueNotSupported",
          field: "spec.types",
          value: t as string,
          detail: 'supported values: "Ingress", "Egress"',
        });
    }
  } else if (key === "coordination.k8s.io/v1/Lease") {
    const d = obj.spec?.leaseDurationSeconds;
    if (d !== undefined && d !== null && !(Number.isInteger(d) && d > 0))
      errors.push({ type: "FieldValueInvalid", field: "spec.leaseDurationSeconds", value: d, detail: "must be greater than 0" });
  }
  return errors;
}

const CALICO_ACTIONS = ["Allow", "Deny", "Log", "Pass"];

/** Defaulting on create and update: Calico's API server puts a policy without a tier in the default tier. */
export function defaultSpec(rt: ResourceType, obj: KubeObject): void {
  if (apiVersionOf(rt) === "projectcalico.org/v3" && rt.kind === "NetworkPolicy")
    obj.spec = { ...obj.spec, tier: obj.spec?.tier || "default" };
}

/** Validation of a new or updated object; throws the 422. */
export function validateObject(rt: ResourceType, obj: KubeObject): void {
  const errors = [...metadataErrors(rt, obj), ...kindErrors(rt, obj)];
  if (errors.length > 0) throw invalid(rt, obj.metadata.name ?? obj.metadata.generateName ?? "", errors);
}

const POD_UPDATE_FORBIDDEN =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** Pod specs are immutable apart from images, deadlines and added tolerations (ValidatePodUpdate). */
export function validatePodUpdate(rt: ResourceType, next: KubeObject, old: KubeObject): void {
  const mutable = (spec: Record<string, unknown> | undefined): unknown => {
    const s = structuredClone(spec ?? {});
    delete s.activeDeadlineSeconds;
    delete s.tolerations;
    delete s.terminationGracePeriodSeconds;
    for (const list of ["containers", "initContainers"]) {
      if (Array.isArray(s[list])) for (const c of s[list] as Record<string, unknown>[]) delete c.image;
    }
    return s;
  };
  if (!sameJson(mutable(next.spec), mutable(old.spec))) {
    throw invalid(rt, old.metadata.name!, [{ type: "FieldValueForbidden", field: "spec", detail: POD_UPDATE_FORBIDDEN }]);
  }
}

interface Container {
  name?: string;
  image?: string;
  ports?: unknown[];
  [k: string]: unknown;
}

/** The ephemeralcontainers subresource: existing ephemeral containers can be neither removed nor changed. */
export function validateEphemeralUpdate(rt: ResourceType, next: KubeObject, old: KubeObject): void {
  const name = old.metadata.name!;
  const before: Container[] = old.spec?.ephemeralContainers ?? [];
  const after: Container[] = next.spec?.ephemeralContainers ?? [];
  const errors: FieldError[] = [];
  for (const prev of before) {
    const idx = after.findIndex((c) => c.name === prev.name);
    if (idx === -1)
      errors.push({
        type: "FieldValueForbidden",
        field: "spec.ephemeralContainers",
        detail: `existing ephemeral containers "${prev.name}" may not be removed`,
      });
    else if (!sameJson(after[idx], prev)) {
      errors.push({
        type: "FieldValueForbidden",
        field: `spec.ephemeralContainers[${idx}]`,
        detail: `existing ephemeral containers "${prev.name}" may not be changed`,
      });
    }
  }
  const taken = new Set<string>([...(old.spec?.containers ?? []), ...(old.spec?.initContainers ?? [])].map((c: Container) => c.name ?? ""));
  after.forEach((c, i) => {
    if (before.some((p) => p.name === c.name)) return;
    const field = `spec.ephemeralContainers[${i}]`;
    if (!c.name) errors.push({ type: "FieldValueRequired", field: `${field}.name`, detail: "" });
    else if (taken.has(c.name)) errors.push({ type: "FieldValueDuplicate", field: `${field}.name`, detail: "", value: c.name });
    else if (c.name.length > 63 || !DNS1123_LABEL.test(c.name))
      errors.push(...nameErrors({ ...rt, plural: "services" }, c.name).map((e) => ({ ...e, field: `${field}.name` })));
    if (!c.image) errors.push({ type: "FieldValueRequired", field: `${field}.image`, detail: "" });
    if (Array.isArray(c.ports) && c.ports.length > 0)
      errors.push({ type: "FieldValueForbidden", field: `${field}.ports`, detail: "cannot be set for an Ephemeral Container" });
    for (const probe of ["livenessProbe", "readinessProbe", "startupProbe", "lifecycle"]) {
      if (c[probe] !== undefined)
        errors.push({ type: "FieldValueForbidden", field: `${field}.${probe}`, detail: "cannot be set for an Ephemeral Container" });
    }
    if (c.name) taken.add(c.name);
  });
  if (errors.length > 0) throw invalid(rt, name, errors);
}
