// POSTs each notification to a URL as Talon's JSON body, with Talon's settings and defaults.
import { z } from "zod";
import { defineNotifier } from "../plugins/define.ts";
import { talonPayload } from "./_payload.ts";

export default defineNotifier({
  name: "webhook",
  needs: [],
  notes: {
    behaviour: "Talon's JSON body.",
  },
  description: "Send each result as JSON to an HTTP endpoint",
  params: z.strictObject({
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).describe("URL of the endpoint"),
    http_method: z.enum(["POST", "PUT", "PATCH"]).default("POST").describe("HTTP method"),
    user_agent: z.string().default("Falco-Talon").describe("User-Agent header (Talon's default, so receivers that check it keep working)"),
    content_type: z.string().default("application/json; charset=utf-8").describe("Content-Type header"),
    custom_headers: z.record(z.string(), z.coerce.string()).default({}).describe("extra HTTP headers (for example Authorization)"),
    timeout_seconds: z.number().positive().default(10).describe("deadline of one request (Kestrel addition)"),
  }),
  example: `
notifiers:
  webhook:
    url: "http://receiver.example:8080/falco"
    http_method: POST
    custom_headers:
      Authorization: "Bearer xxxxx"
`,
  create(settings, { clients }) {
    const headers: Record<string, string> = {
      ...settings.custom_headers,
      "content-type": settings.content_type,
      "user-agent": settings.user_agent,
    };
    return {
      async send(n, signal) {
        await clients.http(settings.url, {
          method: settings.http_method,
          headers,
          body: JSON.stringify(talonPayload(n)),
          timeoutMs: settings.timeout_seconds * 1000,
          signal,
          errorCode: "ERR_NOTIFY",
        });
      },
    };
  },
});
