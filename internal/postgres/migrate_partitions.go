package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// partitionMigration (version 7) makes each organization's learners a partition of
// learners of their own (LIST on org), so that the first import of an organization can
// load its learners into a bare table and build the indexes once, by sorting, when it
// attaches the table as the organization's partition (see importTx in import.go). Every
// index of learners starts with org and every query is restricted to one organization by
// org = $1, so a query plans and reads one partition. Organizations without learners have
// no partition: the first import that writes to one makes it. The indexes keep their
// names on learners; each partition's are named after it (learners_o12_org_email_idx).
//
// Written in Go, without one transaction around it all, because each organization moves
// in a transaction of its own: one transaction would hold a lock on every new table and
// index at once, and the server's lock table (max_locks_per_transaction, 64 per
// connection by default) would run out at about a thousand organizations. A migration
// that stops midway (a crash, a restart) goes on where it stopped at the next start: the
// rows wait in learners_v6 until the last organization has its partition.
func partitionMigration() *goose.Migration {
	return goose.NewGoMigration(7,
		&goose.GoFunc{RunDB: partitionUp},
		&goose.GoFunc{RunTx: partitionDown})
}

func partitionUp(ctx context.Context, db *sql.DB) error {
	if err := partitionStart(ctx, db); err != nil {
		return err
	}
	orgs, err := partitionPending(ctx, db)
	if err != nil {
		return err
	}
	for _, org := range orgs {
		if err := partitionOrg(ctx, db, org); err != nil {
			return err
		}
	}
	return partitionFinish(ctx, db)
}

// inTx runs statements in one transaction.
func inTx(ctx context.Context, db *sql.DB, stmts ...string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%w: %s", err, q)
		}
	}
	return tx.Commit()
}

// partitionStart renames the table of learners to learners_v6 and creates learners,
// partitioned, with the same columns, constraints and indexes; unless an earlier run did.
func partitionStart(ctx context.Context, db *sql.DB) error {
	var kind string
	if err := db.QueryRowContext(ctx, `SELECT relkind::text FROM pg_class WHERE oid = 'learners'::regclass`).Scan(&kind); err != nil {
		return err
	}
	if kind != "r" {
		return nil // already partitioned: a run that stopped midway
	}
	return inTx(ctx, db,
		`ALTER TABLE learners RENAME TO learners_v6`,
		`ALTER TABLE learners_v6 RENAME CONSTRAINT learners_pkey TO learners_v6_pkey`,
		`ALTER INDEX learners_org_email RENAME TO learners_v6_org_email`,
		`ALTER INDEX learners_org_employee_id RENAME TO learners_v6_org_employee_id`,
		`ALTER INDEX learners_org_name RENAME TO learners_v6_org_name`,
		`CREATE TABLE learners (LIKE learners_v6 INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (org)`,
		`ALTER TABLE learners ADD CONSTRAINT learners_pkey PRIMARY KEY (org, seq)`,
		`CREATE UNIQUE INDEX learners_org_email ON learners (org, email)`,
		`CREATE UNIQUE INDEX learners_org_employee_id ON learners (org, employee_id) WHERE employee_id IS NOT NULL`,
		`CREATE INDEX learners_org_name ON learners (org, sort_name)`,
	)
}

// partitionPending returns the organizations whose learners still wait in learners_v6.
func partitionPending(ctx context.Context, db *sql.DB) ([]int64, error) {
	if ok, err := tableExists(ctx, db, "learners_v6"); err != nil || !ok {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT g.seq FROM organizations g
		WHERE EXISTS (SELECT 1 FROM learners_v6 l WHERE l.org = g.seq)
		AND to_regclass('learners_o' || g.seq) IS NULL ORDER BY g.seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var orgs []int64
	for rows.Next() {
		var o int64
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		orgs = append(orgs, o)
	}
	return orgs, rows.Err()
}

// partitionOrg moves one organization's learners into their partition: a bare table, the
// rows, then ATTACH, which builds the indexes (the CHECK spares it the scan that would
// prove the bound, and goes once it is attached).
func partitionOrg(ctx context.Context, db *sql.DB, org int64) error {
	p := partitionName(org)
	return inTx(ctx, db,
		fmt.Sprintf(`CREATE TABLE %s (LIKE learners INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CONSTRAINT %[1]s_org CHECK (org = %d))`, p, org),
		fmt.Sprintf(`INSERT INTO %s SELECT * FROM learners_v6 WHERE org = %d ORDER BY org, seq`, p, org),
		fmt.Sprintf(`SELECT set_config('maintenance_work_mem', '%dkB', true) FROM pg_settings
			WHERE name = 'maintenance_work_mem' AND setting::bigint < %[1]d`, bulkWorkMem),
		fmt.Sprintf(`ALTER TABLE learners ATTACH PARTITION %s FOR VALUES IN (%d)`, p, org),
		fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT %[1]s_org`, p),
	)
}

// partitionFinish drops learners_v6 once every learner in it has its partition.
func partitionFinish(ctx context.Context, db *sql.DB) error {
	if ok, err := tableExists(ctx, db, "learners_v6"); err != nil || !ok {
		return err
	}
	var left int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM learners_v6 l
		WHERE to_regclass('learners_o' || l.org) IS NULL`).Scan(&left); err != nil {
		return err
	}
	if left > 0 {
		return fmt.Errorf("migration 7: %d learners belong to no organization; they are kept in learners_v6", left)
	}
	return inTx(ctx, db, `DROP TABLE learners_v6`)
}

func tableExists(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var ok bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok)
	return ok, err
}

// partitionDown puts the learners back into one table, in one transaction.
func partitionDown(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`CREATE TABLE learners_v6 (LIKE learners INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
		`INSERT INTO learners_v6 SELECT * FROM learners ORDER BY org, seq`,
		`DROP TABLE learners`,
		`ALTER TABLE learners_v6 RENAME TO learners`,
		`ALTER TABLE learners ADD CONSTRAINT learners_pkey PRIMARY KEY (org, seq)`,
		`CREATE UNIQUE INDEX learners_org_email ON learners (org, email)`,
		`CREATE UNIQUE INDEX learners_org_employee_id ON learners (org, employee_id) WHERE employee_id IS NOT NULL`,
		`CREATE INDEX learners_org_name ON learners (org, sort_name)`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%w: %s", err, q)
		}
	}
	return nil
}
