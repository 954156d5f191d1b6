// PATCH by Content-Type, as kube-apiserver dispatches it: RFC 6902 JSON patch, RFC 7386 merge patch,
// strategic merge patch (lists of objects merged by their patchMergeKey) and server-side apply (kept to
// its merge semantics: no field ownership). Custom resources have no strategic merge (415), as in Kubernetes.
import jsonpatch from "fast-json-patch";
import { parse as parseYaml } from "yaml";
import type { ResourceType } from "./resources.ts";
import { ApiError, badRequest, invalid, unsupportedMediaType } from "./status.ts";
import { sameJson } from "./store.ts";
import type { KubeObject } from "./types.ts";

export const JSON_PATCH = "application/json-patch+json";
export const MERGE_PATCH = "application/merge-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
export const APPLY_PATCH = "application/apply-patch+yaml";

export function acceptedPatchTypes(rt: ResourceType): string[] {
  return rt.custom ? [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] : [JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_MERGE_PATCH];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}

/** The patch type named by a Content-Type, or the 415 for one the resource does not accept. */
export function patchTypeOf(rt: ResourceType, contentType: string | undefined): string {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (!acceptedPatchTypes(rt).includes(type)) throw unsupportedMediaType(acceptedPatchTypes(rt));
  return type;
}

/** Applies `body` to `current` according to `contentType`; returns the patched object (not yet validated). */
export function applyPatch(
  rt: ResourceType,
  contentType: string | undefined,
  current: KubeObject,
  body: string,
  query: URLSearchParams,
): KubeObject {
  const type = patchTypeOf(rt, contentType);
  switch (type) {
    case JSON_PATCH:
      return applyJsonPatch(current, parseJson(body));
    case MERGE_PATCH: {
      const patch = parseJson(body);
      if (!isObject(patch)) throw badRequest("error decoding patch: a merge patch must be a JSON object");
      return mergePatch(current, patch) as KubeObject;
    }
    case STRATEGIC_MERGE_PATCH: {
      const patch = parseJson(body);
      if (!isObject(patch)) throw badRequest("error decoding patch: a strategic merge patch must be a JSON object");
      return strategicMerge(current, patch, []) as KubeObject;
    }
    default: {
      if (!query.get("fieldManager")) {
        throw invalid({ kind: "PatchOptions", group: "meta.k8s.io" }, "", [
          { type: "FieldValueRequired", field: "fieldManager", detail: "is required for apply patch" },
        ]);
      }
      const applied = parseApplyBody(body);
      if (applied.apiVersion === undefined || applied.kind === undefined) {
        throw badRequest(`invalid object type: ${String(applied.apiVersion ?? "")}, Kind=${String(applied.kind ?? "")}`);
      }
      return (rt.custom ? mergePatch(current, applied) : strategicMerge(current, applied, [])) as KubeObject;
    }
  }
}

function parseApplyBody(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(body);
  } catch (err) {
    throw badRequest(`error decoding YAML: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw badRequest("error decoding YAML: the apply configuration must be an object");
  return parsed;
}

// evanphx/json-patch's wording, which is what the API server puts in the 422.
function jsonPatchFailure(op: { op?: string; path?: string } | undefined, name: string, fallback: string): ApiError {
  let text = fallback;
  const p = JSON.stringify(op?.path ?? "");
  if (name === "OPERATION_PATH_UNRESOLVABLE" || name === "OPERATION_PATH_CANNOT_ADD") {
    text =
      op?.op === "add"
        ? `add operation does not apply: doc is missing path: ${p}: missing value`
        : `${op?.op} operation does not apply: doc is missing key: ${op?.path}: missing value`;
  } else if (name === "TEST_OPERATION_FAILED") {
    text = `testing value ${op?.path} failed: test failed`;
  }
  return new ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {
    causes: [{ reason: "UnexpectedServerResponse", message: text }],
  });
}

function applyJsonPatch(current: KubeObject, ops: unknown): KubeObject {
  if (!Array.isArray(ops)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc: unknown = structuredClone(current);
  for (const op of ops as jsonpatch.Operation[]) {
    try {
      doc = jsonpatch.applyOperation(doc, op, true, true, false).newDocument;
    } catch (err) {
      const e = err as { name?: string; message?: string };
      if (e.name === "OPERATION_OP_INVALID" || e.name === "OPERATION_NOT_AN_OBJECT" || e.name === "OPERATION_PATH_INVALID") {
        throw badRequest(`the server rejected our request due to an error in our request: ${e.message?.split("\n")[0]}`);
      }
      throw jsonPatchFailure(op, e.name ?? "", e.message?.split("\n")[0] ?? String(err));
    }
  }
  if (!isObject(doc)) throw badRequest("the patched document is not an object");
  return doc as KubeObject;
}

/** RFC 7386. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

type ListStrategy = { mergeKey: string } | "set" | undefined;

const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);

// patchStrategy/patchMergeKey tags of the Go API types, by field name (and parent where it is ambiguous).
function listStrategy(path: readonly string[]): ListStrategy {
  const last = path.at(-1);
  const parent = path.at(-2) ?? "";
  switch (last) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "volumes":
    case "imagePullSecrets":
    case "env":
    case "resourceClaims":
    case "schedulingGates":
      return { mergeKey: "name" };
    case "volumeMounts":
      return { mergeKey: "mountPath" };
    case "volumeDevices":
      return { mergeKey: "devicePath" };
    case "ports":
      return CONTAINER_LISTS.has(parent) ? { mergeKey: "containerPort" } : { mergeKey: "port" };
    case "conditions":
      return { mergeKey: "type" };
    case "addresses":
      return parent === "status" ? { mergeKey: "type" } : undefined;
    case "ownerReferences":
      return { mergeKey: "uid" };
    case "taints":
      return { mergeKey: "key" };
    case "hostAliases":
      return { mergeKey: "ip" };
    case "topologySpreadConstraints":
      return { mergeKey: "topologyKey" };
    case "finalizers":
      return "set";
    default:
      return undefined;
  }
}

function withoutDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((e) => !(isObject(e) && e.$patch === "delete")).map(withoutDirectives);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/") || k.startsWith("$deleteFromPrimitiveList/")) continue;
    out[k] = withoutDirectives(val);
  }
  return out;
}

/** Strategic merge patch: a merge patch whose object lists merge by key and which honours `$patch`. */
export function strategicMerge(target: unknown, patch: unknown, path: readonly string[]): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") return withoutDirectives(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      const drop = Array.isArray(v) ? v : [];
      if (Array.isArray(result[field])) result[field] = (result[field] as unknown[]).filter((e) => !drop.includes(e as Json));
      continue;
    }
    if (v === null) {
      delete result[k];
      continue;
    }
    const childPath = [...path, k];
    if (isObject(v) && v.$patch === "delete") delete result[k];
    else if (Array.isArray(v)) result[k] = mergeList(result[k], v, childPath);
    else if (isObject(v)) result[k] = strategicMerge(result[k], v, childPath);
    else result[k] = v;
  }
  return result;
}

function mergeList(target: unknown, patch: unknown[], path: readonly string[]): unknown[] {
  const strategy = listStrategy(path);
  if (strategy === undefined) return withoutDirectives(patch) as unknown[];
  const current = Array.isArray(target) ? structuredClone(target) : [];
  if (strategy === "set") {
    const out = [...current];
    for (const e of patch) if (!out.some((x) => sameJson(x, e))) out.push(e);
    return out;
  }
  const { mergeKey } = strategy;
  let out: unknown[] = current;
  if (patch.some((e) => isObject(e) && e.$patch === "replace")) out = [];
  for (const item of patch) {
    if (!isObject(item)) {
      out.push(item);
      continue;
    }
    if (item.$patch === "replace") continue;
    const keyValue = item[mergeKey];
    if (item.$patch === "delete") {
      out = out.filter((e) => !(isObject(e) && e[mergeKey] === keyValue));
      continue;
    }
    const idx = keyValue === undefined ? -1 : out.findIndex((e) => isObject(e) && e[mergeKey] === keyValue);
    if (idx >= 0) out[idx] = strategicMerge(out[idx], item, path);
    else out.push(withoutDirectives(item));
  }
  return out;
}
