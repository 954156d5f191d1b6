// A recording OTLP receiver, as an OpenTelemetry Collector's otlp receiver would be: OTLP/gRPC (insecure,
// the TraceService and MetricsService Export methods) and OTLP/HTTP (POST /v1/traces and /v1/metrics with
// application/x-protobuf bodies, gzip or not), both on 127.0.0.1. Requests are decoded with protobufjs from
// the opentelemetry-proto definitions in ./otlp-proto and kept as plain values for the tests. It answers
// like a collector (gRPC OK with an empty Export…ServiceResponse, HTTP 200 with the protobuf response), or,
// when told to, fails the next requests (gRPC UNAVAILABLE, HTTP 503) so retries can be tested.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

const PROTO_DIR = fileURLToPath(new URL("./otlp-proto/", import.meta.url));
const PROTO_FILES = [
  "opentelemetry/proto/collector/trace/v1/trace_service.proto",
  "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
];

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => PROTO_DIR + target;
  root.loadSync(PROTO_FILES);
  root.resolveAll();
  return root;
}

const root = loadRoot();
const TraceRequest = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
const TraceResponse = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse");
const MetricsRequest = root.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest");
const MetricsResponse = root.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse");

export type AttributeValue = string | boolean | number | Uint8Array | AttributeValue[] | { [key: string]: AttributeValue } | undefined;
export type Attributes = Record<string, AttributeValue>;
export type Transport = "grpc" | "http";
export type OtlpSignal = "traces" | "metrics";

export interface ReceivedSpan {
  readonly transport: Transport;
  readonly resource: Attributes;
  readonly scope: { readonly name: string; readonly version: string };
  /** Hex, as in a traceparent. */
  readonly traceId: string;
  readonly spanId: string;
  /** "" for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly flags: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Attributes;
  /** Code 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string };
}

export interface ReceivedPoint {
  readonly attributes: Attributes;
  readonly startNs: bigint;
  readonly timeNs: bigint;
  /** Sum and gauge points. */
  readonly value?: number;
  /** Histogram points. */
  readonly count?: number;
  readonly sum?: number;
  readonly bucketCounts?: number[];
  readonly explicitBounds?: number[];
}

export interface ReceivedMetric {
  readonly transport: Transport;
  readonly resource: Attributes;
  readonly scope: { readonly name: string; readonly version: string };
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly type: "gauge" | "sum" | "histogram" | "exponentialHistogram" | "summary";
  readonly monotonic?: boolean;
  /** 1 delta, 2 cumulative. */
  readonly temporality?: number;
  readonly points: ReceivedPoint[];
}

export interface ReceivedRequest {
  readonly transport: Transport;
  readonly signal: OtlpSignal;
  readonly answer: "ok" | "unavailable";
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
}

// ---- decoding ----------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, oneofs: true, defaults: true, arrays: true };

function hex(bytes: unknown): string {
  return bytes instanceof Uint8Array ? Buffer.from(bytes).toString("hex") : "";
}

function anyValue(v: Obj | undefined): AttributeValue {
  if (v === undefined || v === null || typeof v["value"] !== "string") return undefined;
  const field = v["value"];
  const x = v[field];
  switch (field) {
    case "intValue":
      return Number(x);
    case "arrayValue":
      return ((x as Obj)["values"] as Obj[]).map(anyValue);
    case "kvlistValue":
      return attributes((x as Obj)["values"] as Obj[]);
    default:
      return x as AttributeValue;
  }
}

function attributes(list: Obj[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) out[kv["key"] as string] = anyValue(kv["value"] as Obj | undefined);
  return out;
}

function scopeOf(s: Obj | undefined): { name: string; version: string } {
  return { name: (s?.["name"] as string) ?? "", version: (s?.["version"] as string) ?? "" };
}

/** Decodes an ExportTraceServiceRequest into its spans. */
export function decodeTraceRequest(body: Uint8Array, transport: Transport = "grpc"): ReceivedSpan[] {
  const req = TraceRequest.toObject(TraceRequest.decode(body), TO_OBJECT) as Obj;
  const out: ReceivedSpan[] = [];
  for (const rs of req["resourceSpans"] as Obj[]) {
    const resource = attributes((rs["resource"] as Obj | undefined)?.["attributes"] as Obj[] | undefined);
    for (const ss of rs["scopeSpans"] as Obj[]) {
      const scope = scopeOf(ss["scope"] as Obj | undefined);
      for (const s of ss["spans"] as Obj[]) {
        const status = (s["status"] as Obj | undefined) ?? {};
        out.push({
          transport,
          resource,
          scope,
          traceId: hex(s["traceId"]),
          spanId: hex(s["spanId"]),
          parentSpanId: hex(s["parentSpanId"]),
          name: s["name"] as string,
          kind: s["kind"] as number,
          flags: s["flags"] as number,
          startNs: BigInt(s["startTimeUnixNano"] as string),
          endNs: BigInt(s["endTimeUnixNano"] as string),
          attributes: attributes(s["attributes"] as Obj[]),
          status: { code: (status["code"] as number) ?? 0, message: (status["message"] as string) ?? "" },
        });
      }
    }
  }
  return out;
}

function point(p: Obj): ReceivedPoint {
  const base = {
    attributes: attributes(p["attributes"] as Obj[]),
    startNs: BigInt(p["startTimeUnixNano"] as string),
    timeNs: BigInt(p["timeUnixNano"] as string),
  };
  if (typeof p["value"] === "string") {
    const v = p[p["value"]];
    return { ...base, value: Number(v) }; // asDouble, or asInt as a string
  }
  if (p["bucketCounts"] !== undefined) {
    return {
      ...base,
      count: Number(p["count"]),
      sum: p["sum"] as number,
      bucketCounts: (p["bucketCounts"] as string[]).map(Number),
      explicitBounds: p["explicitBounds"] as number[],
    };
  }
  return base;
}

/** Decodes an ExportMetricsServiceRequest into its metrics. */
export function decodeMetricsRequest(body: Uint8Array, transport: Transport = "grpc"): ReceivedMetric[] {
  const req = MetricsRequest.toObject(MetricsRequest.decode(body), TO_OBJECT) as Obj;
  const out: ReceivedMetric[] = [];
  for (const rm of req["resourceMetrics"] as Obj[]) {
    const resource = attributes((rm["resource"] as Obj | undefined)?.["attributes"] as Obj[] | undefined);
    for (const sm of rm["scopeMetrics"] as Obj[]) {
      const scope = scopeOf(sm["scope"] as Obj | undefined);
      for (const m of sm["metrics"] as Obj[]) {
        const type = m["data"] as ReceivedMetric["type"];
        const data = m[type] as Obj;
        out.push({
          transport,
          resource,
          scope,
          name: m["name"] as string,
          description: m["description"] as string,
          unit: m["unit"] as string,
          type,
          ...(type === "sum" ? { monotonic: data["isMonotonic"] as boolean } : {}),
          ...(data["aggregationTemporality"] !== undefined ? { temporality: data["aggregationTemporality"] as number } : {}),
          points: (data["dataPoints"] as Obj[]).map(point),
        });
      }
    }
  }
  return out;
}

// ---- servers -----------------------------------------------------------------------------------------

export interface OtlpReceiver {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Every span received, in arrival order. */
  readonly spans: ReceivedSpan[];
  /** Every metric export received: one array per request. */
  readonly metricExports: ReceivedMetric[][];
  readonly requests: ReceivedRequest[];
  /** The metric named `name` in the latest export that had it. */
  latestMetric(name: string): ReceivedMetric | undefined;
  /** The next `count` export requests (either signal, either transport) fail: UNAVAILABLE / 503. */
  failNext(count: number): void;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metricExports: ReceivedMetric[][] = [];
  const requests: ReceivedRequest[] = [];
  let failures = 0;

  /** Records one request; false when it is to be answered with a failure. */
  const take = (
    transport: Transport,
    signal: OtlpSignal,
    body: Uint8Array,
    headers: { type?: string; encoding?: string } = {},
  ): boolean => {
    if (failures > 0) {
      failures--;
      requests.push({ transport, signal, answer: "unavailable", contentType: headers.type, contentEncoding: headers.encoding });
      return false;
    }
    requests.push({ transport, signal, answer: "ok", contentType: headers.type, contentEncoding: headers.encoding });
    if (signal === "traces") spans.push(...decodeTraceRequest(body, transport));
    else metricExports.push(decodeMetricsRequest(body, transport));
    return true;
  };

  // gRPC: the messages travel as raw buffers and are decoded here, like the HTTP bodies.
  const raw = {
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  } as const;
  const grpcServer = new grpc.Server();
  const exportHandler =
    (signal: OtlpSignal, response: Uint8Array): grpc.handleUnaryCall<Buffer, Buffer> =>
    (call, callback) => {
      try {
        if (take("grpc", signal, call.request)) callback(null, Buffer.from(response));
        else callback({ code: grpc.status.UNAVAILABLE, details: "the test collector was told to fail" });
      } catch (err) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `undecodable request: ${(err as Error).message}` });
      }
    };
  const emptyTraceResponse = TraceResponse.encode(TraceResponse.create({})).finish();
  const emptyMetricsResponse = MetricsResponse.encode(MetricsResponse.create({})).finish();
  grpcServer.addService(
    { Export: { path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export", ...raw } },
    { Export: exportHandler("traces", emptyTraceResponse) },
  );
  grpcServer.addService(
    { Export: { path: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", ...raw } },
    { Export: exportHandler("metrics", emptyMetricsResponse) },
  );
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );

  const httpServer: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const signal = req.url === "/v1/traces" ? "traces" : req.url === "/v1/metrics" ? "metrics" : undefined;
      if (req.method !== "POST" || signal === undefined) {
        res.writeHead(404).end();
        return;
      }
      const type = req.headers["content-type"];
      if (type !== "application/x-protobuf") {
        res.writeHead(415, { "content-type": "text/plain" }).end("this receiver takes application/x-protobuf");
        return;
      }
      const encoding = req.headers["content-encoding"];
      try {
        const payload = encoding === "gzip" ? gunzipSync(body) : body;
        if (!take("http", signal, payload, { type, ...(encoding === undefined ? {} : { encoding }) })) {
          res.writeHead(503, { "content-type": "text/plain" }).end("the test collector was told to fail");
          return;
        }
      } catch (err) {
        res.writeHead(400, { "content-type": "text/plain" }).end(`undecodable request: ${(err as Error).message}`);
        return;
      }
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end(signal === "traces" ? emptyTraceResponse : emptyMetricsResponse);
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const httpPort = (httpServer.address() as AddressInfo).port;

  return {
    grpcPort,
    httpPort,
    spans,
    metricExports,
    requests,
    latestMetric(name) {
      for (let i = metricExports.length - 1; i >= 0; i--) {
        const m = metricExports[i]!.find((x) => x.name === name);
        if (m !== undefined) return m;
      }
      return undefined;
    },
    failNext(count) {
      failures = count;
    },
    async close() {
      grpcServer.forceShutdown();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
