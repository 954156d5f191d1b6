// Talon's HTTP notifiers that take their server's base URL as `url` or, in the Talon docs' spelling,
// `host_port` (Elasticsearch, Loki): the one schema of the value, the rule that one of them is set, and the
// base they give.
import { z } from "zod";

export const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

interface BaseUrlSettings {
  readonly url?: string | undefined;
  readonly host_port?: string | undefined;
}

/** The settings' superRefine: `url` (or `host_port`) is required. */
export function requireBaseUrl(s: BaseUrlSettings, ctx: z.RefinementCtx): void {
  if (s.url === undefined && s.host_port === undefined) {
    ctx.addIssue({
      code: "invalid_type",
      expected: "string",
      input: undefined,
      path: ["url"],
      message: "url (or host_port) is required",
    });
  }
}

/** The server's base URL, without a trailing slash. */
export function baseUrl(s: BaseUrlSettings): string {
  return (s.url ?? s.host_port ?? "").replace(/\/+$/, "");
}
