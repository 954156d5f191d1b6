// Lambda invocations: the function's answer (status, version, function error, payload) as it is, and
// every failure of the call itself as a KestrelError naming the function, its qualifier and the region.
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { awsError, cancelledError, type ErrorContext } from "./errors.ts";
import type { LambdaRequest, LambdaResult } from "./types.ts";

export async function invokeLambda(
  client: LambdaClient,
  { name, qualifier, invocationType, payload, signal }: LambdaRequest,
  region: string | undefined,
  credentials: string,
): Promise<LambdaResult> {
  const where = region === undefined ? "" : ` in ${region}`;
  const ctx: ErrorContext = {
    what: `invoke the Lambda function '${name}' (${qualifier})${where}`,
    permission: `lambda:InvokeFunction on arn:aws:lambda:${region ?? "<region>"}:<account>:function:${name}:${qualifier}`,
    credentials,
    notFound: `the function '${name}' or its version or alias '${qualifier}' does not exist${where}`,
  };
  try {
    const command = new InvokeCommand({
      FunctionName: name,
      Qualifier: qualifier,
      InvocationType: invocationType,
      Payload: Buffer.from(payload, "utf8"),
    });
    const out = await client.send(command, { abortSignal: signal });
    return {
      statusCode: out.StatusCode ?? 0,
      executedVersion: out.ExecutedVersion,
      functionError: out.FunctionError,
      payload: out.Payload == null ? "" : Buffer.from(out.Payload).toString("utf8"),
    };
  } catch (err) {
    if (signal.aborted) throw cancelledError(ctx.what, signal, err);
    throw awsError(err, ctx);
  }
}
