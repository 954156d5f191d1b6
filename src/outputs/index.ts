// The outputs (artifact targets) Kestrel ships: one file under <category>/<name>.ts and one line here.

import type { Output } from "../plugins/types.ts";
import awsS3 from "./aws/s3.ts";
import gcpGcs from "./gcp/gcs.ts";
import localFile from "./local/file.ts";
import minioS3 from "./minio/s3.ts";

export const outputs: readonly Output[] = [localFile, gcpGcs, awsS3, minioS3];
