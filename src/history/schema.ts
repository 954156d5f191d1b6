// The history's schema, versioned: each migration runs once, in order, inside a transaction, and the
// database records the version it reached (`PRAGMA user_version`). A database written by a newer Kestrel
// (a higher version than this code knows) is refused rather than misread.

/** One step of the schema: the SQL that takes the database from version `version - 1` to `version`. */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE events (
        trace_id    TEXT PRIMARY KEY,
        received_ms INTEGER NOT NULL,
        time        TEXT NOT NULL,
        priority    INTEGER NOT NULL,
        falco_rule  TEXT NOT NULL,
        source      TEXT NOT NULL,
        hostname    TEXT NOT NULL,
        namespace   TEXT,
        pod         TEXT,
        output      TEXT NOT NULL,
        fields      TEXT NOT NULL,
        tags        TEXT NOT NULL,
        rules       TEXT NOT NULL,
        bytes       INTEGER NOT NULL
      );
      CREATE INDEX events_newest ON events (received_ms DESC, trace_id DESC);
      CREATE INDEX events_falco_rule ON events (falco_rule, received_ms DESC);
      CREATE INDEX events_priority ON events (priority, received_ms DESC);
      CREATE TABLE actions (
        trace_id    TEXT NOT NULL REFERENCES events (trace_id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        rule        TEXT NOT NULL,
        action      TEXT NOT NULL,
        actionner   TEXT NOT NULL,
        status      TEXT NOT NULL,
        duration_ms REAL,
        error       TEXT,
        summary     TEXT NOT NULL,
        location    TEXT,
        PRIMARY KEY (trace_id, seq)
      );
      CREATE INDEX actions_status ON actions (status);
      CREATE INDEX actions_rule ON actions (rule);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
