// gcp:function: calls a Cloud Function over HTTPS with the Falco event (and its context) as the JSON body,
// as Talon does: the function's URL comes from the Cloud Functions API (GetFunction on
// projects/<project>/locations/<location>/functions/<name>, the project being the credentials' own), and
// the call carries an ID token whose audience is that URL. Any answer outside 2xx is a failure carrying the
// function's answer. Kestrel differs from Talon on purpose: gcp_function_timeout is in seconds (Talon
// passed it to time.Duration, i.e. nanoseconds), any 2xx counts as success (Talon: only 200), and the name
// and location cannot come from the event, since they choose which code runs.
import { z } from "zod";
import { FUNCTION_LOCATION, FUNCTION_NAME } from "../../clients/gcp/names.ts";
import { gcpOf } from "../../clients/index.ts";
import { eventToJSON } from "../../events/fields.ts";
import { defineActionner } from "../../plugins/define.ts";

/** Longest part of the function's answer kept in the result's objects (notifiers show them). */
const MAX_RESPONSE_CHARS = 1024;

const params = z.strictObject({
  gcp_function_name: z
    .string()
    .regex(FUNCTION_NAME, "must be a Cloud Functions name (a letter, then letters, digits, '-' or '_'; at most 63; no ${…} event values)")
    .describe("name of the function, the last part of projects/<project>/locations/<location>/functions/<name>"),
  gcp_function_location: z
    .string()
    .regex(FUNCTION_LOCATION, "must be a Google Cloud region such as us-central1 (no ${…} event values)")
    .describe("region of the function, e.g. us-central1 (required, as in Talon)"),
  gcp_function_timeout: z
    .number()
    .int()
    .min(0)
    .default(30)
    .describe("seconds to wait for the function's answer; 0 = only the action's deadline (action_timeout_seconds), which always applies"),
});

export default defineActionner({
  category: "gcp",
  name: "function",
  needs: ["gcp"],
  notes: {
    behaviour:
      "Finds the function's URL with the Cloud Functions API (`projects/<project>/locations/<gcp_function_location>/functions/<gcp_function_name>`, v2: `serviceConfig.uri`, else `url`, so 1st and 2nd gen both work) and POSTs the event with its `context` as JSON, with an ID token whose audience is that URL; result objects `name`, `location`, `url`, `function_response_status`, `function_response` (first 1 KiB).",
    talon:
      "`gcp_function_timeout` in seconds, default 30 (Talon: nanoseconds); any 2xx is success (Talon: only 200), anything else a failure carrying the function's answer; name and location cannot use `${…}` event values",
  },
  description: "Call a Google Cloud Function with the Falco event and its context as the JSON body",
  source: "any",
  requiredFields: [],
  continueByDefault: true,
  artifact: "none",
  permissions: `cloudfunctions.functions.get on the function, to find its URL (role Cloud Functions Viewer)
cloudfunctions.functions.invoke (1st gen) or run.routes.invoke (2nd gen) on the function, to call it (role Cloud Functions Invoker or Cloud Run Invoker)`,
  params,
  example: `
- action: Invoke GCP function
  actionner: gcp:function
  parameters:
    gcp_function_name: sample-function
    gcp_function_location: us-central1
    gcp_function_timeout: 10
`,
  async run(ctx) {
    const { gcp_function_name: name, gcp_function_location: location, gcp_function_timeout: timeout } = ctx.params;
    const { signal } = ctx;
    const gcp = gcpOf(ctx.clients);
    // Talon's GetFunction check and the call are one step here: the lookup gives the URL the call needs.
    const url = await gcp.functionUrl({ name, location, signal });
    const answer = await gcp.invokeFunction({
      name,
      location,
      url,
      body: eventToJSON(ctx.event, ctx.contextValues),
      timeoutMs: timeout * 1000,
      signal,
    });
    return {
      summary: `the function '${name}' in the location '${location}' has been called: HTTP ${answer.status}`,
      objects: {
        name,
        location,
        url,
        function_response_status: String(answer.status),
        function_response: answer.body.slice(0, MAX_RESPONSE_CHARS),
      },
    };
  },
});
