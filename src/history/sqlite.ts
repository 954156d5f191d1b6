// The embedded history: every accepted event and what was done about it, in SQLite through Node's built-in
// node:sqlite (no native addon). WAL mode lets the console read while the engine writes; a batch of events
// and actions is one transaction, so a crash loses at most the batch being written. Retention removes the
// oldest events (and their actions) by age and by total size.
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { KestrelError } from "../errors.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";

/** An event as the history keeps it. `priority` is the level (0 Emergency … 7 Debug). */
export interface HistoryEvent {
  readonly traceId: string;
  readonly receivedMs: number;
  readonly time: string;
  readonly priority: number;
  readonly falcoRule: string;
  readonly source: string;
  readonly hostname: string;
  readonly namespace?: string | undefined;
  readonly pod?: string | undefined;
  readonly output: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly tags: readonly string[];
  /** The Kestrel rules the event matched (empty for an unmatched event). */
  readonly rules: readonly string[];
}

/** One action's result (or decision: dry_run, pending_approval…), the `seq`-th of its event. */
export interface HistoryAction {
  readonly traceId: string;
  readonly seq: number;
  readonly rule: string;
  readonly action: string;
  readonly actionner: string;
  readonly status: string;
  readonly durationMs?: number | undefined;
  readonly error?: string | undefined;
  readonly summary: string;
  readonly location?: string | undefined;
}

export interface EventFilter {
  /** Received at or after (ms since the epoch). */
  readonly since?: number;
  /** Received before (ms since the epoch). */
  readonly until?: number;
  /** This priority level and the more severe ones. */
  readonly priority?: number;
  readonly falcoRule?: string;
  /** A Kestrel rule the event matched. */
  readonly rule?: string;
  readonly source?: string;
  readonly hostname?: string;
  readonly namespace?: string;
  readonly pod?: string;
  readonly tag?: string;
  /** An action of the event has this status. */
  readonly status?: string;
  /** Free text in the Falco output. */
  readonly q?: string;
}

export interface EventPage {
  readonly events: HistoryEvent[];
  /** Give it back as `cursor` for the next (older) page; undefined on the last page. */
  readonly nextCursor: string | undefined;
}

export interface Retention {
  /** Events received longer ago than this are removed. */
  readonly maxAgeMs?: number;
  /** The oldest events are removed while the stored events' size is above this. */
  readonly maxBytes?: number;
}

export const MAX_PAGE = 500;
const PRUNE_CHUNK = 1000;

interface EventRow {
  trace_id: string;
  received_ms: number;
  time: string;
  priority: number;
  falco_rule: string;
  source: string;
  hostname: string;
  namespace: string | null;
  pod: string | null;
  output: string;
  fields: string;
  tags: string;
  rules: string;
}

interface ActionRow {
  trace_id: string;
  seq: number;
  rule: string;
  action: string;
  actionner: string;
  status: string;
  duration_ms: number | null;
  error: string | null;
  summary: string;
  location: string | null;
}

export class SqliteHistory {
  readonly #db: DatabaseSync;
  readonly #insertEvent: StatementSync;
  readonly #insertAction: StatementSync;
  /** The stored events' size, kept as they are written and removed (a SUM over a million rows is slow). */
  #bytes: number;

  /** Opens (creating) the database at `path` (":memory:" for tests) and brings its schema up to date. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;");
    migrate(this.#db);
    this.#insertEvent = this.#db.prepare(
      `INSERT OR IGNORE INTO events (trace_id, received_ms, time, priority, falco_rule, source, hostname, namespace, pod, output, fields, tags, rules, bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertAction = this.#db.prepare(
      `INSERT OR REPLACE INTO actions (trace_id, seq, rule, action, actionner, status, duration_ms, error, summary, location)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#bytes = Number((this.#db.prepare("SELECT total(bytes) AS b FROM events").get() as { b: number }).b);
  }

  /** The stored events' size in bytes (their text as stored). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Writes a batch in one transaction: all of it is stored, or none (the error is thrown). */
  write(events: readonly HistoryEvent[], actions: readonly HistoryAction[]): void {
    const added = inTransaction(this.#db, () => {
      let bytes = 0;
      for (const e of events) bytes += this.#writeEvent(e);
      for (const a of actions) {
        this.#insertAction.run(
          a.traceId,
          a.seq,
          a.rule,
          a.action,
          a.actionner,
          a.status,
          a.durationMs ?? null,
          a.error ?? null,
          a.summary,
          a.location ?? null,
        );
      }
      return bytes;
    });
    this.#bytes += added;
  }

  #writeEvent(e: HistoryEvent): number {
    const fields = JSON.stringify(e.fields);
    const tags = JSON.stringify(e.tags);
    const rules = JSON.stringify(e.rules);
    const bytes = e.output.length + fields.length + tags.length + rules.length + e.falcoRule.length + 64;
    const { changes } = this.#insertEvent.run(
      e.traceId,
      e.receivedMs,
      e.time,
      e.priority,
      e.falcoRule,
      e.source,
      e.hostname,
      e.namespace ?? null,
      e.pod ?? null,
      e.output,
      fields,
      tags,
      rules,
      bytes,
    );
    return Number(changes) > 0 ? bytes : 0;
  }

  /** Events newest first, `limit` at most, after `cursor` (a previous page's nextCursor). */
  list(filter: EventFilter, limit: number, cursor?: string): EventPage {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new KestrelError("ERR_QUERY_INVALID", `limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    const { where, params } = whereClause(filter, cursor === undefined ? undefined : decodeCursor(cursor));
    const rows = this.#db
      .prepare(`SELECT * FROM events e ${where} ORDER BY e.received_ms DESC, e.trace_id DESC LIMIT ?`)
      .all(...params, limit + 1) as unknown as EventRow[];
    const more = rows.length > limit;
    const events = rows.slice(0, limit).map(eventOf);
    const last = events[events.length - 1];
    return { events, nextCursor: more && last !== undefined ? encodeCursor(last.receivedMs, last.traceId) : undefined };
  }

  /** One event and its actions, in order; undefined when the history does not have it (or no longer). */
  get(traceId: string): { event: HistoryEvent; actions: HistoryAction[] } | undefined {
    const row = this.#db.prepare("SELECT * FROM events WHERE trace_id = ?").get(traceId) as EventRow | undefined;
    if (row === undefined) return undefined;
    const actions = this.#db.prepare("SELECT * FROM actions WHERE trace_id = ? ORDER BY seq").all(traceId) as unknown as ActionRow[];
    return { event: eventOf(row), actions: actions.map(actionOf) };
  }

  /** Removes what the retention no longer keeps, oldest first; returns how many events went. */
  prune(retention: Retention, nowMs: number): number {
    let removed = 0;
    if (retention.maxAgeMs !== undefined) removed += this.#removeOlderThan(nowMs - retention.maxAgeMs);
    while (retention.maxBytes !== undefined && this.#bytes > retention.maxBytes) {
      const oldest = this.#db
        .prepare("SELECT trace_id, bytes FROM events ORDER BY received_ms, trace_id LIMIT ?")
        .all(PRUNE_CHUNK) as unknown as { trace_id: string; bytes: number }[];
      if (oldest.length === 0) break;
      let excess = this.#bytes - retention.maxBytes;
      const doomed: string[] = [];
      for (const o of oldest) {
        if (excess <= 0) break;
        doomed.push(o.trace_id);
        excess -= o.bytes;
      }
      removed += this.#remove(doomed);
    }
    return removed;
  }

  #removeOlderThan(cutoffMs: number): number {
    const row = this.#db.prepare("SELECT total(bytes) AS b, count(*) AS n FROM events WHERE received_ms < ?").get(cutoffMs) as {
      b: number;
      n: number;
    };
    if (row.n === 0) return 0;
    this.#db.prepare("DELETE FROM events WHERE received_ms < ?").run(cutoffMs);
    this.#bytes -= row.b;
    return row.n;
  }

  #remove(traceIds: readonly string[]): number {
    if (traceIds.length === 0) return 0;
    const marks = traceIds.map(() => "?").join(", ");
    this.#bytes -= inTransaction(this.#db, () => {
      const { b } = this.#db.prepare(`SELECT total(bytes) AS b FROM events WHERE trace_id IN (${marks})`).get(...traceIds) as { b: number };
      this.#db.prepare(`DELETE FROM events WHERE trace_id IN (${marks})`).run(...traceIds);
      return b;
    });
    return traceIds.length;
  }

  close(): void {
    this.#db.close();
  }
}

/** Runs `work` in one transaction: committed when it returns, rolled back (and the error thrown) when it throws. */
function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

function migrate(db: DatabaseSync): void {
  const { user_version: current } = db.prepare("PRAGMA user_version").get() as { user_version: number };
  if (current > SCHEMA_VERSION) {
    throw new KestrelError(
      "ERR_CONFIG_INVALID",
      `the history database has schema version ${current}, newer than this Kestrel's ${SCHEMA_VERSION}: use a newer Kestrel or another history.path`,
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    inTransaction(db, () => {
      db.exec(m.sql);
      db.exec(`PRAGMA user_version = ${m.version}`);
    });
  }
}

type SqlValue = string | number;

/** The WHERE clause of a filter (and of the page's cursor), with its parameters: values never enter the SQL text. */
function whereClause(
  filter: EventFilter,
  after: { receivedMs: number; traceId: string } | undefined,
): { where: string; params: SqlValue[] } {
  const terms: string[] = [];
  const params: SqlValue[] = [];
  const add = (term: string, ...values: SqlValue[]): void => {
    terms.push(term);
    params.push(...values);
  };
  if (filter.since !== undefined) add("e.received_ms >= ?", filter.since);
  if (filter.until !== undefined) add("e.received_ms < ?", filter.until);
  if (filter.priority !== undefined) add("e.priority <= ?", filter.priority);
  if (filter.falcoRule !== undefined) add("e.falco_rule = ?", filter.falcoRule);
  if (filter.source !== undefined) add("e.source = ?", filter.source);
  if (filter.hostname !== undefined) add("e.hostname = ?", filter.hostname);
  if (filter.namespace !== undefined) add("e.namespace = ?", filter.namespace);
  if (filter.pod !== undefined) add("e.pod = ?", filter.pod);
  if (filter.rule !== undefined) add("EXISTS (SELECT 1 FROM json_each(e.rules) WHERE value = ?)", filter.rule);
  if (filter.tag !== undefined) add("EXISTS (SELECT 1 FROM json_each(e.tags) WHERE value = ?)", filter.tag);
  if (filter.status !== undefined) add("EXISTS (SELECT 1 FROM actions a WHERE a.trace_id = e.trace_id AND a.status = ?)", filter.status);
  if (filter.q !== undefined && filter.q !== "") add("e.output LIKE ? ESCAPE '\\'", `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (after !== undefined) {
    add("(e.received_ms < ? OR (e.received_ms = ? AND e.trace_id < ?))", after.receivedMs, after.receivedMs, after.traceId);
  }
  return { where: terms.length === 0 ? "" : `WHERE ${terms.join(" AND ")}`, params };
}

function encodeCursor(receivedMs: number, traceId: string): string {
  return Buffer.from(JSON.stringify([receivedMs, traceId])).toString("base64url");
}

function decodeCursor(cursor: string): { receivedMs: number; traceId: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === "string") {
      return { receivedMs: value[0] as number, traceId: value[1] };
    }
  } catch {
    // reported below
  }
  throw new KestrelError("ERR_QUERY_INVALID", "cursor is not one a previous page gave");
}

function eventOf(r: EventRow): HistoryEvent {
  return {
    traceId: r.trace_id,
    receivedMs: r.received_ms,
    time: r.time,
    priority: r.priority,
    falcoRule: r.falco_rule,
    source: r.source,
    hostname: r.hostname,
    namespace: r.namespace ?? undefined,
    pod: r.pod ?? undefined,
    output: r.output,
    fields: JSON.parse(r.fields) as Record<string, unknown>,
    tags: JSON.parse(r.tags) as string[],
    rules: JSON.parse(r.rules) as string[],
  };
}

function actionOf(r: ActionRow): HistoryAction {
  return {
    traceId: r.trace_id,
    seq: r.seq,
    rule: r.rule,
    action: r.action,
    actionner: r.actionner,
    status: r.status,
    durationMs: r.duration_ms ?? undefined,
    error: r.error ?? undefined,
    summary: r.summary,
    location: r.location ?? undefined,
  };
}
