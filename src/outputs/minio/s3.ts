// minio:s3: stores an artifact in a bucket of a MinIO server (the minio.* settings: endpoint, keys, use_ssl),
// with the same key, streaming and location (s3://bucket/key) as aws:s3. The client uses path-style
// addressing, as MinIO expects.
import { z } from "zod";
import { awsOf } from "../../clients/index.ts";
import { defineOutput } from "../../plugins/define.ts";
import { logsExample } from "../_artifact.ts";
import { bucketParam, locationProblems, prefixParam, uploadArtifact } from "../_s3.ts";

const params = z.strictObject({
  bucket: bucketParam,
  prefix: prefixParam,
});

export default defineOutput({
  category: "minio",
  name: "s3",
  needs: ["minio"],
  notes: {
    behaviour:
      "The same as `aws:s3`, to the MinIO server of the `minio.*` settings (path-style requests, signature v4, region `us-east-1`).",
  },
  description: "Store the artifact in a MinIO bucket",
  params,
  permissions: "MinIO policy: s3:PutObject on arn:aws:s3:::<bucket>/<prefix>/* for the minio.access_key user",
  example: logsExample("minio:s3", { bucket: "falco-artifacts", prefix: "/logs" }),
  check(p) {
    return locationProblems(p.bucket, p.prefix);
  },
  write(artifact, ctx) {
    return uploadArtifact(() => awsOf(ctx.clients).minio(), artifact, ctx, { bucket: ctx.params.bucket, prefix: ctx.params.prefix });
  },
});
