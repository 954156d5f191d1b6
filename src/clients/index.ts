// The clients plugins use to reach external systems. They come in through the plugin context, never
// through module globals, so a test can hand in clients pointed at test servers. Clients for a category
// (kubernetes, aws, gcp) are created only when a loaded rule or notifier needs them; this module imports
// none of their SDKs (types only), so the plugins that use them load without them.
import { KestrelError } from "../errors.ts";
import type { AwsClients } from "./aws/types.ts";
import type { GcpClient } from "./gcp/types.ts";
import { type HttpClient, httpRequest } from "./http.ts";
import type { KubeApi } from "./kubernetes/api.ts";

export interface Clients {
  readonly http: HttpClient;
  /** Present when a loaded rule, notifier or context needs the cluster. */
  readonly kubernetes?: KubeApi;
  /** Present when a loaded rule uses a gcp actionner or output. */
  readonly gcp?: GcpClient;
  /** Present when a loaded rule uses an aws or minio actionner or output, or the aws context. */
  readonly aws?: AwsClients;
}

export function createClients(overrides: Partial<Clients> = {}): Clients {
  return {
    http: overrides.http ?? httpRequest,
    ...(overrides.kubernetes === undefined ? {} : { kubernetes: overrides.kubernetes }),
    ...(overrides.gcp === undefined ? {} : { gcp: overrides.gcp }),
    ...(overrides.aws === undefined ? {} : { aws: overrides.aws }),
  };
}

/** The Kubernetes client, or a clear error when none was created (which rules check prevents). */
export function kubernetesOf(clients: Clients): KubeApi {
  if (clients.kubernetes === undefined) {
    throw new KestrelError("ERR_CLIENT_MISSING", "no Kubernetes client: Kestrel was started without a cluster for these rules");
  }
  return clients.kubernetes;
}

/** The AWS clients, or a clear error when none were created (which rules check prevents). */
export function awsOf(clients: Clients): AwsClients {
  if (clients.aws === undefined) {
    throw new KestrelError("ERR_CLIENT_MISSING", "no AWS client: Kestrel was started without rules that use AWS or MinIO");
  }
  return clients.aws;
}

/** The Google Cloud client, or a clear error when none was created (which rules check prevents). */
export function gcpOf(clients: Clients): GcpClient {
  if (clients.gcp === undefined) {
    throw new KestrelError("ERR_CLIENT_MISSING", "no Google Cloud client: Kestrel was started without the gcp settings these rules need");
  }
  return clients.gcp;
}
