// Errors as the real API server reports them: a `Status` object whose reason, code, message wording and
// details (resource name in `kind` for most errors, the Kind for Invalid) match kube-apiserver, because
// client code branches on exactly these fields.
import { qualifiedResource, type ResourceType } from "./resources.ts";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Expired",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  readonly headers: Record<string, string>;

  constructor(code: number, reason: string, message: string, details?: StatusDetails, headers: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.headers = headers;
  }

  toStatus(): Record<string, unknown> {
    return failureStatus(this.code, this.reason, this.message, this.details);
  }
}

export function failureStatus(code: number, reason: string, message: string, details?: StatusDetails): Record<string, unknown> {
  const status: Record<string, unknown> = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason };
  if (details !== undefined) status.details = details;
  status.code = code;
  return status;
}

export function successStatus(code?: number, details?: StatusDetails): Record<string, unknown> {
  const status: Record<string, unknown> = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" };
  if (details !== undefined) status.details = details;
  if (code !== undefined) status.code = code;
  return status;
}

function resourceDetails(rt: ResourceType, name: string): StatusDetails {
  return rt.group === "" ? { name, kind: rt.plural } : { name, group: rt.group, kind: rt.plural };
}

export function notFound(rt: ResourceType, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualifiedResource(rt)} "${name}" not found`, resourceDetails(rt, name));
}

/** The 404 for a path the server does not serve at all. */
export function noSuchPath(): ApiError {
  return new ApiError(404, "NotFound", "the server could not find the requested resource", {});
}

export function alreadyExists(rt: ResourceType, name: string): ApiError {
  return new ApiError(409, "AlreadyExists", `${qualifiedResource(rt)} "${name}" already exists`, resourceDetails(rt, name));
}

export function conflict(
  rt: ResourceType,
  name: string,
  why = "the object has been modified; please apply your changes to the latest version and try again",
): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": ${why}`,
    resourceDetails(rt, name),
  );
}

/** A field error, worded like k8s.io/apimachinery/pkg/util/validation/field. */
export interface FieldError {
  type: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueForbidden" | "FieldValueDuplicate" | "FieldValueNotSupported";
  field: string;
  detail: string;
  value?: unknown;
}

function fieldErrorText(e: FieldError): string {
  switch (e.type) {
    case "FieldValueInvalid":
      return `Invalid value: ${JSON.stringify(e.value)}: ${e.detail}`;
    case "FieldValueRequired":
      return `Required value${e.detail ? `: ${e.detail}` : ""}`;
    case "FieldValueForbidden":
      return `Forbidden${e.detail ? `: ${e.detail}` : ""}`;
    case "FieldValueDuplicate":
      return `Duplicate value: ${JSON.stringify(e.value)}`;
    case "FieldValueNotSupported":
      return `Unsupported value: ${JSON.stringify(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
  }
}

export function invalid(rt: { kind: string; group: string }, name: string, errors: FieldError[]): ApiError {
  const lines = errors.map((e) => `${e.field}: ${fieldErrorText(e)}`);
  const summary = lines.length === 1 ? lines[0] : `[${lines.join(", ")}]`;
  const group = rt.group === "" ? {} : { group: rt.group };
  const qualifiedKind = rt.group === "" ? rt.kind : `${rt.kind}.${rt.group}`;
  return new ApiError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${summary}`, {
    name,
    ...group,
    kind: rt.kind,
    causes: errors.map((e) => ({ reason: e.type, message: fieldErrorText(e), field: e.field })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, "BadRequest", message);
}

export function methodNotAllowed(): ApiError {
  return new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
}

export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  return new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
  );
}

export function tooManyRequests(message: string, causes?: StatusCause[]): ApiError {
  return new ApiError(429, "TooManyRequests", message, causes === undefined ? undefined : { causes });
}

export function internalError(message: string): ApiError {
  return new ApiError(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function unauthorized(): ApiError {
  return new ApiError(401, "Unauthorized", "Unauthorized");
}
