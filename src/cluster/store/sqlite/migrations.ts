/**
 * The SQLite store's schema, as an ordered list of migrations. A migration is never edited once
 * released: a change to the schema is a new migration appended at the end. `schema_migrations`
 * records which ones a database has (version, name, when), and its layout never changes, so any
 * version of the code can read which version wrote a database.
 */
import type Database from "better-sqlite3";
import { assert } from "../../../foundation/assert.js";
import { EtherplaneError } from "../../../foundation/errors.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Tables are STRICT (a wrong type is refused, not coerced); JSON columns are checked with
 * json_valid. AoE addresses are bounded by the protocol: shelf (major) is 16 bits and slot (minor)
 * 8 bits, with all-ones meaning broadcast (AoE spec r11, section 3.2).
 */
const V1_CREATE_TABLES = `
CREATE TABLE hosts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  roles TEXT NOT NULL CHECK (json_valid(roles)),
  export_interfaces TEXT NOT NULL CHECK (json_valid(export_interfaces)),
  inventory TEXT CHECK (inventory IS NULL OR json_valid(inventory)),
  last_seen_ms INTEGER,
  created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE pools (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  host_id TEXT NOT NULL REFERENCES hosts (id),
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  devices TEXT NOT NULL CHECK (json_valid(devices)),
  capacity_bytes INTEGER,
  free_bytes INTEGER,
  created_ms INTEGER NOT NULL,
  UNIQUE (host_id, name),
  -- The parent key of volumes' (pool_id, host_id): a volume lives on its pool's host.
  UNIQUE (id, host_id)
) STRICT;

CREATE TABLE volumes (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  pool_id TEXT NOT NULL,
  host_id TEXT NOT NULL,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  allocated_bytes INTEGER,
  source_id TEXT,
  shelf INTEGER NOT NULL CHECK (shelf BETWEEN 0 AND 65534),
  slot INTEGER NOT NULL CHECK (slot BETWEEN 0 AND 254),
  exported INTEGER NOT NULL CHECK (exported IN (0, 1)),
  allow TEXT NOT NULL CHECK (json_valid(allow)),
  state TEXT NOT NULL,
  error TEXT,
  generation INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  UNIQUE (shelf, slot),
  FOREIGN KEY (pool_id, host_id) REFERENCES pools (id, host_id)
) STRICT;
CREATE INDEX volumes_by_pool ON volumes (pool_id, host_id);
CREATE INDEX volumes_by_host ON volumes (host_id);
CREATE INDEX volumes_by_source ON volumes (source_id);

CREATE TABLE tasks (
  -- Insertion order: breaks ties between tasks created in the same millisecond.
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  progress REAL NOT NULL CHECK (progress BETWEEN 0 AND 1),
  message TEXT NOT NULL,
  subject_id TEXT,
  result TEXT CHECK (result IS NULL OR json_valid(result)),
  error TEXT CHECK (error IS NULL OR json_valid(error)),
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX tasks_by_time ON tasks (created_ms, seq);
CREATE INDEX tasks_by_state ON tasks (state, created_ms, seq);
CREATE INDEX tasks_by_subject ON tasks (subject_id, created_ms, seq);

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  host_id TEXT REFERENCES hosts (id),
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER,
  revoked INTEGER NOT NULL CHECK (revoked IN (0, 1))
) STRICT;
CREATE INDEX tokens_by_host ON tokens (host_id);

-- AUTOINCREMENT: an audit id is never reused, even after the newest entries are removed.
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL,
  result TEXT NOT NULL,
  subject TEXT,
  detail TEXT
) STRICT;
`;

/**
 * Networks and domains. A domain keeps its xl.cfg text (the truth) beside the fields read from
 * it; its MACs are also rows of domain_macs, whose primary key makes a MAC unique in the cluster.
 */
const V2_NETWORKS_AND_DOMAINS = `
CREATE TABLE networks (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  host_id TEXT NOT NULL REFERENCES hosts (id),
  bridge TEXT NOT NULL,
  uplink TEXT,
  vlan_id INTEGER CHECK (vlan_id IS NULL OR vlan_id BETWEEN 1 AND 4094),
  error TEXT,
  created_ms INTEGER NOT NULL,
  UNIQUE (host_id, name),
  UNIQUE (host_id, bridge)
) STRICT;

CREATE TABLE domains (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  uuid TEXT NOT NULL UNIQUE,
  config TEXT NOT NULL,
  memory_mib INTEGER NOT NULL CHECK (memory_mib >= 1),
  vcpus INTEGER NOT NULL CHECK (vcpus >= 1),
  disks TEXT NOT NULL CHECK (json_valid(disks)),
  vifs TEXT NOT NULL CHECK (json_valid(vifs)),
  on_poweroff TEXT NOT NULL,
  on_reboot TEXT NOT NULL,
  on_crash TEXT NOT NULL,
  host_id TEXT REFERENCES hosts (id),
  desired_state TEXT NOT NULL CHECK (desired_state IN ('running', 'paused', 'stopped')),
  stop_mode TEXT NOT NULL CHECK (stop_mode IN ('shutdown', 'destroy')),
  shutdown_timeout_s INTEGER NOT NULL CHECK (shutdown_timeout_s >= 0),
  reboot_seq INTEGER NOT NULL,
  observed TEXT CHECK (observed IS NULL OR json_valid(observed)),
  generation INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX domains_by_host ON domains (host_id);

CREATE TABLE domain_macs (
  mac TEXT PRIMARY KEY,
  domain_id TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX domain_macs_by_domain ON domain_macs (domain_id);
`;

/**
 * AoE safe by default: a volume's empty allow list now means nobody. Volumes made before stay as
 * they were (open to everyone: their guests keep their disks) until an admin closes them with
 * `volume deny NAME --everyone`.
 */
const V3_VOLUME_ACCESS = `
ALTER TABLE volumes ADD COLUMN allow_everyone INTEGER NOT NULL DEFAULT 0
  CHECK (allow_everyone IN (0, 1));
ALTER TABLE volumes ADD COLUMN grants TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(grants));
ALTER TABLE volumes ADD COLUMN applied_generation INTEGER NOT NULL DEFAULT 0;
UPDATE volumes SET allow_everyone = 1 WHERE json_array_length(allow) = 0;
`;

/**
 * A domain's placed spec: what its last start checked, frozen for the host to run (model.ts
 * DomainPlacedSpec). Domains started before it have none: the controller asks for a new start.
 */
const V4_DOMAIN_PLACED_SPEC = `
ALTER TABLE domains ADD COLUMN placed TEXT CHECK (placed IS NULL OR json_valid(placed));
`;

/**
 * The domain policy (src/domain/policy): the refused xl.cfg keys an admin allowed in a domain's
 * file, by name (a JSON array of keys). Existing domains allowed nothing.
 */
const V5_DOMAIN_ALLOWED_UNSAFE = `
ALTER TABLE domains ADD COLUMN allowed_unsafe TEXT NOT NULL DEFAULT '[]'
  CHECK (json_valid(allowed_unsafe));
`;

/**
 * Placement, events and maintenance (issue 11): a domain's anti-affinity group and the hosts it
 * is pinned to (etherplane settings, not xl.cfg keys: the file stays as written), a host's
 * maintenance, the cluster's settings (overcommit) as JSON values by key, and the event log
 * (bounded by the EventLog: the oldest rows go first; AUTOINCREMENT so an id is never reused).
 */
const V6_PLACEMENT_EVENTS_MAINTENANCE = `
ALTER TABLE domains ADD COLUMN anti_affinity TEXT;
ALTER TABLE domains ADD COLUMN pin_hosts TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(pin_hosts));
ALTER TABLE hosts ADD COLUMN maintenance TEXT
  CHECK (maintenance IS NULL OR json_valid(maintenance));
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL CHECK (json_valid(value)),
  updated_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  message TEXT NOT NULL,
  fields TEXT NOT NULL CHECK (json_valid(fields))
) STRICT;
CREATE INDEX events_by_time ON events (time_ms, id);
`;

/** High availability per domain: on/off (NULL: by its on_* policies) and its restart priority. */
const V7_DOMAIN_HA = `
ALTER TABLE domains ADD COLUMN ha INTEGER CHECK (ha IS NULL OR ha IN (0, 1));
ALTER TABLE domains ADD COLUMN ha_priority INTEGER NOT NULL DEFAULT 0;
`;

/**
 * Availability per domain (controller/domain-availability.ts): each change of (desired state
 * running, observed state running) with its time, appended by the store on the domain writes that
 * change it, the newest DOMAIN_STATE_CHANGES_MAX per domain kept. Domains that exist already start
 * with their state now.
 */
const V8_DOMAIN_STATE_CHANGES = `
CREATE TABLE domain_state_changes (
  domain_id TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  wanted INTEGER NOT NULL CHECK (wanted IN (0, 1)),
  up INTEGER NOT NULL CHECK (up IN (0, 1))
) STRICT;
CREATE INDEX domain_state_changes_by_domain ON domain_state_changes (domain_id);
INSERT INTO domain_state_changes (domain_id, time_ms, wanted, up)
  SELECT id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
    desired_state = 'running', coalesce(json_extract(observed, '$.state') = 'running', 0)
  FROM domains;
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "create hosts, pools, volumes, tasks, tokens, audit", sql: V1_CREATE_TABLES },
  { version: 2, name: "create networks, domains, domain_macs", sql: V2_NETWORKS_AND_DOMAINS },
  {
    version: 3,
    name: "volume access: allow_everyone, grants, applied_generation",
    sql: V3_VOLUME_ACCESS,
  },
  { version: 4, name: "domains.placed: the spec a start checked", sql: V4_DOMAIN_PLACED_SPEC },
  { version: 5, name: "domains.allowed_unsafe", sql: V5_DOMAIN_ALLOWED_UNSAFE },
  {
    version: 6,
    name: "placement settings, host maintenance, cluster settings, events",
    sql: V6_PLACEMENT_EVENTS_MAINTENANCE,
  },
  { version: 7, name: "domains.ha, domains.ha_priority", sql: V7_DOMAIN_HA },
  { version: 8, name: "domain_state_changes (availability)", sql: V8_DOMAIN_STATE_CHANGES },
];

/** The newest schema this code knows. */
export const SCHEMA_VERSION_LATEST = MIGRATIONS.length;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_ms INTEGER NOT NULL
) STRICT`;

/** The database's schema version: the newest migration it records, 0 for a new database. */
export function readSchemaVersion(db: Database.Database): number {
  const row = db
    .prepare<[], { version: number | null }>(
      "SELECT max(version) AS version FROM schema_migrations",
    )
    .get();
  return row?.version ?? 0;
}

/**
 * Brings `db` to SCHEMA_VERSION_LATEST in one transaction (all pending migrations or none), and
 * refuses a database written by newer code: this code would misread its tables.
 */
export function migrate(
  db: Database.Database,
  label: string,
  nowMs: () => number,
  migrations: readonly Migration[] = MIGRATIONS,
): number {
  migrations.forEach((m, i) =>
    assert(m.version === i + 1, `migration ${i} has version ${m.version}`),
  );
  const latest = migrations.length;
  const run = db.transaction(() => {
    db.exec(CREATE_MIGRATIONS_TABLE);
    const current = readSchemaVersion(db);
    if (current > latest) {
      throw new EtherplaneError(
        "UNAVAILABLE",
        `the store ${label} has schema version ${current}, but this etherplane knows versions up ` +
          `to ${latest}: it was written by a newer etherplane. Upgrade etherplane to the version ` +
          `that wrote it (or restore a backup taken before that upgrade).`,
        { params: { schemaVersion: current, schemaVersionKnown: latest } },
      );
    }
    const insert = db.prepare(
      "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
    );
    for (const migration of migrations.slice(current)) {
      db.exec(migration.sql);
      insert.run(migration.version, migration.name, nowMs());
    }
    return latest;
  });
  // IMMEDIATE: take the write lock before reading the version, so two processes opening the same
  // new file cannot both apply migration 1.
  return run.immediate();
}
