// aws:s3: stores an artifact in an S3 bucket as `<prefix>/<time>_<namespace>_<pod>_<name>` (Talon's key),
// streamed in 8 MiB parts (multipart upload) so that a large capture is never held whole in memory. The
// bucket's region is the output's `region`, else aws.region. The result's location is s3://bucket/key.
import { z } from "zod";
import { awsOf } from "../../clients/index.ts";
import { defineOutput } from "../../plugins/define.ts";
import { logsExample } from "../_artifact.ts";
import { bucketParam, locationProblems, prefixParam, uploadArtifact } from "../_s3.ts";

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

const params = z.strictObject({
  bucket: bucketParam,
  prefix: prefixParam,
  region: z.string().optional().describe("region of the bucket (default: aws.region); event values (${…}) are not allowed here"),
});

export default defineOutput({
  category: "aws",
  name: "s3",
  needs: ["aws"],
  notes: {
    behaviour:
      "Streams the artifact to `<prefix>/<UTC time>_<namespace>_<pod>_<name>` (Talon's key) in 8 MiB parts (multipart upload, at most two parts in flight, so a 200 MB capture is never held in memory; a failed or cancelled upload is aborted, leaving no parts); `region` defaults to `aws.region`; location `s3://bucket/key`; objects `file`, `bucket`, `prefix`, `key`, `region`.",
  },
  description: "Store the artifact in an AWS S3 bucket",
  params,
  permissions: `IAM: s3:PutObject on arn:aws:s3:::<bucket>/<prefix>/*
IAM: s3:AbortMultipartUpload on arn:aws:s3:::<bucket>/<prefix>/* (clean-up of a failed large upload)`,
  example: logsExample("aws:s3", { bucket: "falco-artifacts", prefix: "logs", region: "eu-west-1" }),
  check(p) {
    const problems = locationProblems(p.bucket, p.prefix);
    if (p.region !== undefined && !REGION.test(p.region)) {
      problems.push(
        p.region.includes("${")
          ? `the region '${p.region}' cannot use variables: an event must not choose where artifacts go`
          : `'${p.region}' is not an AWS region (such as eu-west-1)`,
      );
    }
    return problems;
  },
  write(artifact, ctx) {
    const { bucket, prefix, region } = ctx.params;
    return uploadArtifact(() => awsOf(ctx.clients).s3(region), artifact, ctx, {
      bucket,
      prefix,
      ...(region === undefined ? {} : { extra: { region } }),
    });
  },
});
