// aws:lambda: invokes a Lambda function with the Falco event and its `context` (Talon's keys plus the
// additional contexts) as the payload. RequestResponse waits for the function: its answer is the result,
// and a function error (X-Amz-Function-Error) is a failure carrying the function's own error. Event queues
// the invocation (202) and DryRun only checks that the caller may invoke it (204): both are successes.
//
// Differences from Talon: the function's error is a failure (Talon ignored FunctionError and reported
// success); an Event invocation is a success everywhere (Talon counted its 202 as a failure in metrics);
// no GetFunction call before each invocation (Invoke itself says when the function does not exist, so
// lambda:GetFunction is not needed); the function and its qualifier cannot come from an event (`${…}`
// is refused there), since an event must not choose which code runs with Kestrel's identity.
import { z } from "zod";
import { awsOf } from "../../clients/index.ts";
import { KestrelError } from "../../errors.ts";
import { eventToJSON } from "../../events/fields.ts";
import { defineActionner } from "../../plugins/define.ts";

/** A function name, partial ARN or ARN, as the Invoke API accepts it (without a `:qualifier` suffix here). */
const FUNCTION_NAME = /^(arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:function:|\d{12}:function:)?[a-zA-Z0-9_-]{1,64}$/;
const QUALIFIER = /^(\$LATEST|[a-zA-Z0-9_-]{1,128})$/;
/** What of the function's answer goes into the result (and so into notifications). */
const MAX_ANSWER_CHARS = 4096;

const params = z.strictObject({
  aws_lambda_name: z.string().min(1, "must name the function").describe("the function's name or ARN (in the region of aws.region)"),
  aws_lambda_alias_or_version: z.string().default("$LATEST").describe("alias or version of the function"),
  aws_lambda_invocation_type: z
    .enum(["RequestResponse", "Event", "DryRun"])
    .default("RequestResponse")
    .describe("RequestResponse waits for the function's answer; Event queues the invocation; DryRun only checks the permission"),
});

function clip(text: string): string {
  return text.length > MAX_ANSWER_CHARS ? `${text.slice(0, MAX_ANSWER_CHARS)}…` : text;
}

/** The function's error from its error payload ({"errorType", "errorMessage"}), else the payload as is. */
function functionErrorText(payload: string): string {
  try {
    const e = JSON.parse(payload) as { errorType?: unknown; errorMessage?: unknown };
    const type = typeof e.errorType === "string" ? e.errorType : "";
    const message = typeof e.errorMessage === "string" ? e.errorMessage : "";
    if (type !== "" || message !== "") return [type, message].filter((s) => s !== "").join(": ");
  } catch {
    // not JSON: shown as is
  }
  return clip(payload.trim()) || "no error payload";
}

export default defineActionner({
  category: "aws",
  name: "lambda",
  needs: ["aws"],
  notes: {
    behaviour:
      "Invokes `aws_lambda_name` (name or ARN) at `aws_lambda_alias_or_version` with `aws_lambda_invocation_type` `RequestResponse` (the function's answer is the result), `Event` (queued, 202) or `DryRun` (permission check, 204); the payload is the Falco event with its `context` (Talon's keys and the additional contexts, e.g. `aws.region`).",
    talon:
      "a function error (`X-Amz-Function-Error`) is a failure carrying the function's `errorType: errorMessage` (Talon reported success); `Event` is a success everywhere (Talon's metrics counted its 202 as a failure); no `GetFunction` before each call (Invoke says when the function is missing, so `lambda:GetFunction` is not needed); the function and qualifier cannot come from an event (`${…}` refused by `rules check`)",
  },
  description: "Invoke an AWS Lambda function with the Falco event and its context as payload",
  source: "any",
  requiredFields: [],
  continueByDefault: true,
  artifact: "none",
  permissions: "IAM: lambda:InvokeFunction on arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>]",
  params,
  example: `
- action: Invoke Lambda function
  actionner: aws:lambda
  additional_contexts: [aws]
  parameters:
    aws_lambda_name: sample-function
    aws_lambda_alias_or_version: $LATEST
    aws_lambda_invocation_type: RequestResponse
`,
  check(p) {
    const problems: string[] = [];
    for (const [key, value, pattern, what] of [
      ["aws_lambda_name", p.aws_lambda_name, FUNCTION_NAME, "a function name or ARN"],
      ["aws_lambda_alias_or_version", p.aws_lambda_alias_or_version, QUALIFIER, "an alias or version ($LATEST, 3, prod)"],
    ] as const) {
      if (value.includes("${")) problems.push(`${key} '${value}' cannot use variables: an event must not choose which function runs`);
      else if (!pattern.test(value)) problems.push(`${key} '${value}' is not ${what}`);
    }
    return problems;
  },
  async run({ params: p, event, contextValues, clients, signal }) {
    const name = p.aws_lambda_name;
    const qualifier = p.aws_lambda_alias_or_version;
    const result = await awsOf(clients).invokeLambda({
      name,
      qualifier,
      invocationType: p.aws_lambda_invocation_type,
      payload: eventToJSON(event, contextValues),
      signal,
    });
    const version = result.executedVersion ?? qualifier;
    if (result.functionError !== undefined) {
      throw new KestrelError(
        "ERR_ACTION",
        `the Lambda function '${name}' (version ${version}) failed (${result.functionError}): ${functionErrorText(result.payload)}`,
      );
    }
    const objects = { name, version };
    switch (p.aws_lambda_invocation_type) {
      case "Event":
        return {
          summary: `the Lambda function '${name}' (${qualifier}) has been invoked asynchronously (HTTP ${result.statusCode})`,
          objects,
        };
      case "DryRun":
        return { summary: `the Lambda function '${name}' (${qualifier}) can be invoked (DryRun: it was not run)`, objects };
      default: {
        const answer = result.payload.trim();
        return {
          summary: `the Lambda function '${name}' (version ${version}) has been invoked${answer === "" ? "" : `: ${clip(answer)}`}`,
          objects,
        };
      }
    }
  },
});
