// ?watch=true: newline-delimited JSON events from the store's change feed. As in kube-apiserver, a watch
// without a resourceVersion (or "0") starts with synthetic ADDED events for the current objects, one with
// a resourceVersion replays the changes after it (or reports 410 Expired), and an object that stops (or
// starts) matching the selectors is reported DELETED (or ADDED).
import type { IncomingMessage, ServerResponse } from "node:http";
import { apiVersionOf, type ResourceType } from "./resources.ts";
import { parseSelection, type Selection, selects } from "./selectors.ts";
import { ApiError, badRequest } from "./status.ts";
import type { ChangeEvent, Store } from "./store.ts";
import type { KubeObject } from "./types.ts";

interface ActiveWatch {
  end(): void;
  bookmark(): void;
}

export class Watches {
  private readonly store: Store;
  private readonly bookmarkIntervalMs: number;
  private readonly active = new Set<ActiveWatch>();

  constructor(store: Store, bookmarkIntervalMs: number) {
    this.store = store;
    this.bookmarkIntervalMs = bookmarkIntervalMs;
  }

  get count(): number {
    return this.active.size;
  }

  /** Ends every open watch, as an API server restart or its request timeout would. */
  closeAll(): void {
    for (const w of [...this.active]) w.end();
  }

  /** Sends a BOOKMARK now on every watch that allowed them. */
  sendBookmarks(): void {
    for (const w of this.active) w.bookmark();
  }

  /** Throws ApiError (before any byte is written) for a bad selector or resourceVersion. */
  serve(req: IncomingMessage, res: ServerResponse, rt: ResourceType, namespace: string | undefined, query: URLSearchParams): void {
    const selection = parseSelection(rt, query);
    const rvParam = query.get("resourceVersion") ?? "";
    const sendInitial = query.get("sendInitialEvents") === "true";
    const bookmarks = query.get("allowWatchBookmarks") === "true";
    let replay: ChangeEvent[] | "expired" | undefined;
    if (!sendInitial && rvParam !== "" && rvParam !== "0") {
      const rv = Number(rvParam);
      if (!Number.isInteger(rv) || rv < 0) throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`);
      replay = this.store.eventsSince(rv);
    }
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache, private" });
    res.flushHeaders();
    const write = (type: string, object: unknown) => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    if (replay === "expired") {
      write("ERROR", new ApiError(410, "Expired", `too old resource version: ${rvParam} (${this.store.resourceVersion})`).toStatus());
      res.end();
      return;
    }
    if (replay === undefined) {
      for (const o of this.store.list(rt, namespace)) if (selects(selection, rt, o)) write("ADDED", o);
    } else {
      for (const e of replay) {
        const out = translate(e, rt, namespace, selection);
        if (out !== undefined) write(out.type, out.object);
      }
    }
    const bookmark = (extra?: Record<string, string>) => {
      if (!bookmarks) return;
      const metadata: Record<string, unknown> = { resourceVersion: String(this.store.resourceVersion) };
      if (extra !== undefined) metadata.annotations = extra;
      write("BOOKMARK", { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata });
    };
    if (sendInitial) bookmark({ "k8s.io/initial-events-end": "true" });
    const unsubscribe = this.store.subscribe((e) => {
      const out = translate(e, rt, namespace, selection);
      if (out !== undefined) write(out.type, out.object);
    });
    const timers: NodeJS.Timeout[] = [];
    const watch: ActiveWatch = {
      end: () => {
        cleanup();
        if (!res.writableEnded) res.end();
      },
      bookmark: () => bookmark(),
    };
    const cleanup = () => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.active.delete(watch);
    };
    this.active.add(watch);
    const timeout = Number(query.get("timeoutSeconds") ?? "0");
    if (Number.isFinite(timeout) && timeout > 0) timers.push(setTimeout(watch.end, timeout * 1000).unref());
    if (bookmarks && this.bookmarkIntervalMs > 0) timers.push(setInterval(watch.bookmark, this.bookmarkIntervalMs).unref());
    req.on("close", cleanup);
    res.on("close", cleanup);
  }
}

function translate(
  e: ChangeEvent,
  rt: ResourceType,
  namespace: string | undefined,
  selection: Selection,
): { type: string; object: KubeObject } | undefined {
  if (e.rt !== rt) return undefined;
  if (namespace !== undefined && e.object.metadata.namespace !== namespace) return undefined;
  const now = selects(selection, rt, e.object);
  if (e.type !== "MODIFIED") return now ? { type: e.type, object: e.object } : undefined;
  const before = e.old === undefined ? now : selects(selection, rt, e.old);
  if (now && before) return { type: "MODIFIED", object: e.object };
  if (now) return { type: "ADDED", object: e.object };
  if (before) return { type: "DELETED", object: e.object };
  return undefined;
}
