-- Learners carry their organization as a number (organizations.seq), as in the SQLite store,
-- instead of its 30-character text ID, and are keyed by (org, seq) where seq counts the
-- organization's learners (organizations.learners_seq, taken by Import, which holds the
-- organization's row locked): every index entry of a learner is 22 bytes shorter, the
-- primary key serves "created" order so learners_org_seq goes, and new learners take their
-- seqs in one UPDATE instead of a nextval per learner. Measured with psql \copy of
-- 1,000,000 learners into each shape on this 2-core machine: 14.0-17.8 s before,
-- 9.8-11.8 s after (docs/benchmarks.md). Columns are ordered widest-aligned first, so that
-- no padding sits between them.

-- +goose Up
ALTER TABLE organizations ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE organizations ADD CONSTRAINT organizations_seq_key UNIQUE (seq);
ALTER TABLE organizations ADD COLUMN learners_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE learners_v3 (
    org              bigint NOT NULL,
    seq              bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    active           boolean NOT NULL DEFAULT false,
    id               text COLLATE "C" NOT NULL,
    email            text COLLATE "C" NOT NULL,
    first_name       text COLLATE "C" NOT NULL,
    last_name        text COLLATE "C" NOT NULL,
    employee_id      text COLLATE "C", -- NULL when blank, so that the partial unique index ignores it
    job_title        text NOT NULL DEFAULT '',
    department       text COLLATE "C" NOT NULL DEFAULT '',
    location         text COLLATE "C" NOT NULL DEFAULT '',
    manager_email    text NOT NULL DEFAULT '',
    timezone         text NOT NULL DEFAULT '',
    created_batch_id text,
    updated_batch_id text,
    search           text NOT NULL DEFAULT '',
    CHECK (employee_id IS NULL OR employee_id <> '')
);
INSERT INTO learners_v3 (org, seq, created_at, updated_at, active, id, email, first_name, last_name,
        employee_id, job_title, department, location, manager_email, timezone, created_batch_id,
        updated_batch_id, search)
    SELECT o.seq, l.seq, l.created_at, l.updated_at, l.active, l.id, l.email, l.first_name, l.last_name,
        l.employee_id, l.job_title, l.department, l.location, l.manager_email, l.timezone,
        l.created_batch_id, l.updated_batch_id, l.search
    FROM learners l JOIN organizations o ON o.id = l.org_id;
-- The existing IDs embed seqs of the old, global sequence: each organization counts on from
-- its highest.
UPDATE organizations o SET learners_seq = COALESCE((SELECT max(l.seq) FROM learners_v3 l WHERE l.org = o.seq), 0);
DROP TABLE learners;
ALTER TABLE learners_v3 RENAME TO learners;
ALTER TABLE learners ADD CONSTRAINT learners_pkey PRIMARY KEY (org, seq);
CREATE UNIQUE INDEX learners_org_email ON learners (org, email);
CREATE UNIQUE INDEX learners_org_employee_id ON learners (org, employee_id) WHERE employee_id IS NOT NULL;
-- See 00001 for why the name index stops at first_name.
CREATE INDEX learners_org_name ON learners (org, last_name, first_name);

-- +goose Down
-- Not reversible: a learner's ID embeds its seq, and after this migration seqs count per
-- organization, so two organizations' learners may share one; the old global key would
-- have to renumber them and break their IDs. Restore the backup taken before upgrading.
-- +goose StatementBegin
DO $$ BEGIN
    RAISE EXCEPTION 'migration 00003 (learners keyed by organization) cannot be reversed: restore a backup';
END $$;
-- +goose StatementEnd
