// `additional_contexts: [aws]`: the instance profile and region of the EC2 instance Kestrel runs on, from
// the instance metadata service with an IMDSv2 token (PUT /latest/api/token, then GET iam/info and
// placement/region), within 2 s, cached for a minute. They reach templates as AWS_INSTANCE_PROFILE_ARN,
// AWS_INSTANCE_PROFILE_ID and AWS_REGION, and the event's `context` (the aws:lambda payload) as
// aws.instance_profile_arn, aws.instance_profile_id and aws.region.
//
// Differences from Talon, whose aws context never runs (no actionner sets UseContext): it runs; IMDSv2
// only (no fallback to the token-less IMDSv1); an instance without an instance profile gives empty profile
// values instead of failing; off EC2 the action fails at once with a clear error instead of waiting on the
// SDK's retries.
import { z } from "zod";
import { awsOf } from "../clients/index.ts";
import { defineContext } from "../plugins/define.ts";

export default defineContext({
  name: "aws",
  needs: ["aws-metadata"],
  description:
    "Instance profile and region of the EC2 instance Kestrel runs on (aws.instance_profile_arn, aws.instance_profile_id, aws.region)",
  params: z.strictObject({}),
  permissions:
    "no IAM permission; the instance metadata service must be reachable with IMDSv2 (from a container: the instance's metadata hop limit ≥ 2)",
  example: `
- rule: Shell in a container
  match:
    rules: [Terminal shell in container]
  actions:
    - action: Record the instance
      actionner: local:command
      additional_contexts: [aws]
      parameters:
        command: ["/usr/bin/logger", "-t", "kestrel", "\${RULE} in \${AWS_REGION} (\${AWS_INSTANCE_PROFILE_ARN})"]
`,
  async gather(_event, { clients, signal }) {
    const m = await awsOf(clients).instanceMetadata(signal);
    return {
      "aws.instance_profile_arn": m.instanceProfileArn,
      "aws.instance_profile_id": m.instanceProfileId,
      "aws.region": m.region,
    };
  },
});
