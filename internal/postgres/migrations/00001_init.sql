-- The same tables and meanings as the SQLite store (internal/sqlite/migrations); only the
-- types differ: timestamptz for times, bytea for file chunks, boolean for flags, and an
-- identity column where SQLite uses its rowid (seq: insertion order, the last tie-breaker
-- of every sort). IDs are random text ("org_...", "lrn_..."). Every table that belongs to an
-- organization carries org_id, and every query filters on it.

-- +goose Up
CREATE TABLE organizations (
    id               text PRIMARY KEY,
    slug             text NOT NULL UNIQUE,
    name             text NOT NULL,
    hris_provider    text NOT NULL DEFAULT '',
    learners_version bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL
);

-- A domain belongs to one organization only: an email address must name one directory.
CREATE TABLE org_domains (
    domain text PRIMARY KEY,
    org_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
);
CREATE INDEX org_domains_org ON org_domains (org_id);

CREATE TABLE import_batches (
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    file_name  text NOT NULL,
    sha256     text NOT NULL,
    format     text NOT NULL,
    rows       integer NOT NULL,
    new        integer NOT NULL,
    updated    integer NOT NULL,
    unchanged  integer NOT NULL
);
CREATE INDEX import_batches_org_created ON import_batches (org_id, created_at, seq);

-- search holds lower(first_name, last_name, email) joined by U+001F, lower-cased in Go like
-- the SQLite store does, so that both engines match the same learners for one query.
-- The indexed columns collate "C" (code point order): the order of SQLite's BINARY whatever
-- the database's default collation, and comparisons by memcmp, which a million-row import
-- makes tens of millions of.
CREATE TABLE learners (
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    id               text COLLATE "C" PRIMARY KEY,
    -- No foreign key: its check would cost a lookup and a row lock per learner written,
    -- and the only writer of learners (Import) holds the organization's row locked FOR
    -- UPDATE, so the organization exists for as long as it writes.
    org_id           text COLLATE "C" NOT NULL,
    email            text COLLATE "C" NOT NULL,
    first_name       text COLLATE "C" NOT NULL,
    last_name        text COLLATE "C" NOT NULL,
    employee_id      text COLLATE "C", -- NULL when blank, so that the partial unique index ignores it
    job_title        text NOT NULL DEFAULT '',
    department       text COLLATE "C" NOT NULL DEFAULT '',
    location         text COLLATE "C" NOT NULL DEFAULT '',
    manager_email    text NOT NULL DEFAULT '',
    timezone         text NOT NULL DEFAULT '',
    active           boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    created_batch_id text,
    updated_batch_id text,
    search           text NOT NULL DEFAULT '',
    CHECK (employee_id IS NULL OR employee_id <> '')
);
CREATE UNIQUE INDEX learners_org_email ON learners (org_id, email);
CREATE UNIQUE INDEX learners_org_employee_id ON learners (org_id, employee_id) WHERE employee_id IS NOT NULL;
-- Keyset pagination: an index for the default sort (name) and for created, so that a page
-- is a range scan from the cursor on however deep in the list it is; email has its unique
-- index. The name index stops at first_name, without the seq that breaks ties: equal names
-- are then one deduplicated posting list, and inserting a million learners costs 11 s
-- instead of 19 s (psql \copy, measured); the few rows of equal name are ordered by seq
-- with an incremental sort. Sorting by department or location has no index of its own on
-- purpose: every index costs every import, and those sorts are rare; a filter on them walks
-- the name index.
CREATE INDEX learners_org_name ON learners (org_id, last_name, first_name);
CREATE INDEX learners_org_created ON learners (org_id, created_at, seq);

CREATE TABLE admins (
    id            text PRIMARY KEY,
    org_id        text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX admins_org ON admins (org_id);

CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    admin_id   text NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           text PRIMARY KEY,
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         text NOT NULL,
    hash         text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_org ON api_tokens (org_id, created_at);

CREATE TABLE uploads (
    id           text PRIMARY KEY,
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by   text NOT NULL,
    file_name    text NOT NULL,
    size         bigint NOT NULL DEFAULT 0,
    sha256       text NOT NULL DEFAULT '',
    status       text NOT NULL,
    report       bytea,
    base_version bigint NOT NULL DEFAULT 0,
    batch_id     text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX uploads_org ON uploads (org_id, created_at);
CREATE INDEX uploads_status_updated ON uploads (status, updated_at);

-- The uploaded file, in chunks of about 1 MiB so that no statement carries the whole file
-- and any instance can read it back.
CREATE TABLE upload_chunks (
    upload_id text NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (upload_id, seq)
);

CREATE TABLE upload_errors (
    upload_id text NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    row       integer NOT NULL,
    "column"  text NOT NULL,
    code      text NOT NULL,
    value     text NOT NULL,
    message   text NOT NULL,
    PRIMARY KEY (upload_id, seq)
);

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
