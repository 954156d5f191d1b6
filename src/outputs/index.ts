// The outputs (artifact targets) Kestrel ships: one file under <category>/<name>.ts and one line here.
import localFile from "./local/file.ts";
import gcpGcs from "./gcp/gcs.ts";
import awsS3 from "./aws/s3.ts";
import minioS3 from "./minio/s3.ts";
import type { Output } from "../plugins/types.ts";

export const outputs: readonly Output[] = [localFile as Output, gcpGcs as Output, awsS3 as Output, minioS3 as Output];
