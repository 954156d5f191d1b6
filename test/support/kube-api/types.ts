// Shared shapes of the fake API server's public interface.

// biome-ignore lint/suspicious/noExplicitAny: API objects are arbitrary JSON, read freely by tests.
export type KubeObject = Record<string, any> & {
  apiVersion: string;
  kind: string;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  metadata: { name?: string; namespace?: string; [k: string]: any };
};

export interface RecordedRequest {
  method: string;
  /** The URL path, percent-decoding left as sent. */
  path: string;
  /** Query parameters; a repeated parameter (exec's `command`) is an array. */
  query: Record<string, string | string[]>;
  contentType: string | undefined;
  /** Parsed JSON when the body is JSON, the text otherwise, undefined without a body. */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  /** True for a WebSocket upgrade (exec/attach). */
  websocket: boolean;
  /** The WebSocket subprotocol the server chose. */
  protocol?: string;
  /** The HTTP status of the answer (101 for an accepted WebSocket); undefined while a stream is open or a request hangs. */
  status?: number;
}

export interface ExecLogEntry {
  namespace: string;
  pod: string;
  container: string;
  argv: string[];
}

export interface DeletionRecord {
  apiVersion: string;
  kind: string;
  namespace: string | undefined;
  name: string;
  uid: string;
  gracePeriodSeconds: number | undefined;
  propagationPolicy: string | undefined;
  /** "delete", "eviction", "deletecollection", "cascade" (garbage collector), "namespace" (its namespace went), "test" (remove()) */
  via: string;
}

export interface FailRule {
  method?: string;
  path: RegExp;
  status: number;
  reason?: string;
  message?: string;
  times?: number;
}

export interface HangRule {
  method?: string;
  path: RegExp;
  times?: number;
}

export interface DelayRule {
  method?: string;
  path: RegExp;
  /** How long to hold the request before handling it normally. */
  ms: number;
  times?: number;
}
