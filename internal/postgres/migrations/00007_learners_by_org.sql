-- Each organization's learners are a partition of learners of their own (LIST on org), so
-- that the first import of an organization can load its learners into a bare table and
-- build the indexes once, by sorting, when it attaches the table as the organization's
-- partition (see importTx in import.go): a million learners in half the time of a million
-- inserts into four B-trees. Every index of learners starts with org and every query is
-- restricted to one organization with org = $1, so a query plans and reads one partition.
-- Organizations without learners have no partition: the first import that writes to one
-- makes it. The indexes keep their names on learners; each partition's are named after it
-- (learners_o12_org_email_idx).

-- +goose Up
ALTER TABLE learners RENAME TO learners_v6;
ALTER TABLE learners_v6 RENAME CONSTRAINT learners_pkey TO learners_v6_pkey;
ALTER INDEX learners_org_email RENAME TO learners_v6_org_email;
ALTER INDEX learners_org_employee_id RENAME TO learners_v6_org_employee_id;
ALTER INDEX learners_org_name RENAME TO learners_v6_org_name;

CREATE TABLE learners (LIKE learners_v6 INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (org);
ALTER TABLE learners ADD CONSTRAINT learners_pkey PRIMARY KEY (org, seq);
CREATE UNIQUE INDEX learners_org_email ON learners (org, email);
CREATE UNIQUE INDEX learners_org_employee_id ON learners (org, employee_id) WHERE employee_id IS NOT NULL;
CREATE INDEX learners_org_name ON learners (org, sort_name);

-- The stored learners move organization by organization, each into a bare table that
-- ATTACH then indexes (the CHECK spares it the scan that would prove the bound).
-- +goose StatementBegin
DO $$
DECLARE
    o bigint;
BEGIN
    FOR o IN SELECT seq FROM organizations g WHERE EXISTS (SELECT 1 FROM learners_v6 l WHERE l.org = g.seq) ORDER BY seq LOOP
        EXECUTE format('CREATE TABLE learners_o%s (LIKE learners INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CONSTRAINT learners_o%s_org CHECK (org = %s))', o, o, o);
        EXECUTE format('INSERT INTO learners_o%s SELECT * FROM learners_v6 WHERE org = %s ORDER BY org, seq', o, o);
        EXECUTE format('ALTER TABLE learners ATTACH PARTITION learners_o%s FOR VALUES IN (%s)', o, o);
        EXECUTE format('ALTER TABLE learners_o%s DROP CONSTRAINT learners_o%s_org', o, o);
    END LOOP;
    IF EXISTS (SELECT 1 FROM learners_v6 l WHERE NOT EXISTS (SELECT 1 FROM organizations g WHERE g.seq = l.org)) THEN
        RAISE EXCEPTION 'migration 00007: learners of an organization that does not exist';
    END IF;
END $$;
-- +goose StatementEnd
DROP TABLE learners_v6;

-- +goose Down
CREATE TABLE learners_v6 (LIKE learners INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO learners_v6 SELECT * FROM learners ORDER BY org, seq;
DROP TABLE learners;
ALTER TABLE learners_v6 RENAME TO learners;
ALTER TABLE learners ADD CONSTRAINT learners_pkey PRIMARY KEY (org, seq);
CREATE UNIQUE INDEX learners_org_email ON learners (org, email);
CREATE UNIQUE INDEX learners_org_employee_id ON learners (org, employee_id) WHERE employee_id IS NOT NULL;
CREATE INDEX learners_org_name ON learners (org, sort_name);
