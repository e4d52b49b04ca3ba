-- The first schema of the embedded store. Timestamps are INTEGER unix nanoseconds (UTC);
-- IDs are random text ("org_…", "lrn_…"). Every table that belongs to an organization
-- carries its ID (learners: its integer key, see there), and every query filters on it.

-- +goose Up
-- seq is the organization's compact key inside the learners table (see there).
CREATE TABLE organizations (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    hris_provider    TEXT NOT NULL DEFAULT '',
    learners_version INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);

-- A domain belongs to one organization: its primary key is the domain alone.
CREATE TABLE org_domains (
    domain TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX org_domains_org ON org_domains (org_id);

CREATE TABLE import_batches (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    file_name  TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    format     TEXT NOT NULL,
    rows       INTEGER NOT NULL,
    new        INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    unchanged  INTEGER NOT NULL
);
CREATE INDEX import_batches_org_created ON import_batches (org_id, created_at);

-- The learners table is written a million rows at a time, and every B-tree a row goes
-- into costs time, so it has as few and as narrow indexes as the reads allow:
-- * seq is the rowid (aliased so that VACUUM keeps it). It breaks ties in every sort and
--   rides along in every index for free; created order is seq order (imports are
--   serialised, so later rows are newer).
-- * org is organizations.seq: an integer instead of the 30-character text ID in every
--   index entry. Queries still filter on it, looked up from the organization's ID.
-- * id has no index of its own: it embeds seq (see newLearnerIDs), so a lookup by ID is a
--   lookup by seq that then checks the whole ID.
-- * The batch IDs have no foreign key: the batch row is written at the end of the import,
--   after its learners, and a deferred key would make SQLite scan for children.
-- * search holds the lower-cased first name, last name and email joined by U+001F,
--   lower-cased in Go because SQLite's lower() and LIKE fold ASCII only.
CREATE TABLE learners (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL,
    org              INTEGER NOT NULL,
    email            TEXT NOT NULL,
    first_name       TEXT NOT NULL,
    last_name        TEXT NOT NULL,
    employee_id      TEXT,
    job_title        TEXT NOT NULL DEFAULT '',
    department       TEXT NOT NULL DEFAULT '',
    location         TEXT NOT NULL DEFAULT '',
    manager_email    TEXT NOT NULL DEFAULT '',
    timezone         TEXT NOT NULL DEFAULT '',
    active           INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    created_batch_id TEXT,
    updated_batch_id TEXT,
    search           TEXT NOT NULL DEFAULT '',
    CHECK (employee_id IS NULL OR employee_id <> '')
);
CREATE UNIQUE INDEX learners_org_email ON learners (org, email);
CREATE UNIQUE INDEX learners_org_employee_id ON learners (org, employee_id)
    WHERE employee_id IS NOT NULL;
-- Keyset pagination: (org, sort columns, seq). Sorting by email uses learners_org_email,
-- by creation learners_org (org, seq): entries of a few bytes, always appended.
CREATE INDEX learners_org ON learners (org);
CREATE INDEX learners_org_name ON learners (org, last_name, first_name);
CREATE INDEX learners_org_department ON learners (org, department);
CREATE INDEX learners_org_location ON learners (org, location);

CREATE TABLE admins (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX admins_org ON admins (org_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    admin_id   TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_org ON api_tokens (org_id);

CREATE TABLE uploads (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by   TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    size         INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    report       BLOB,
    base_version INTEGER NOT NULL DEFAULT 0,
    batch_id     TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX uploads_org ON uploads (org_id, created_at);
CREATE INDEX uploads_status_updated ON uploads (status, updated_at);

-- The file, in pieces of about 1 MiB, so that neither writing nor reading it needs the
-- whole file in memory.
CREATE TABLE upload_chunks (
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (upload_id, seq)
) WITHOUT ROWID;

-- The full error list of an upload; seq is the position in the list, 0-based and
-- contiguous, so a page is a range scan instead of an OFFSET.
CREATE TABLE upload_errors (
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    row       INTEGER NOT NULL,
    "column"  TEXT NOT NULL,
    code      TEXT NOT NULL,
    value     TEXT NOT NULL,
    message   TEXT NOT NULL,
    PRIMARY KEY (upload_id, seq)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE upload_errors;
DROP TABLE upload_chunks;
DROP TABLE uploads;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE admins;
DROP TABLE learners;
DROP TABLE import_batches;
DROP TABLE org_domains;
DROP TABLE organizations;
