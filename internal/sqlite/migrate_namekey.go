package sqlite

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"

	"github.com/roster-dev/roster/internal/keyset"
)

// nameKeyMigration (version 5) gives learners sort_name, the name sort's and the search's
// folded key (keyset.NameKey: case and accents removed), in place of the search column,
// and puts the name index on it, as PostgreSQL's migration 6 does. Written in Go because
// the key is Go's fold, which SQL cannot reproduce. Before it, names sorted and searched
// byte-wise: "de la Cruz" and "Ávila" came after Z, and "jose" did not find José.
func nameKeyMigration() *goose.Migration {
	return goose.NewGoMigration(5, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE learners ADD COLUMN sort_name TEXT NOT NULL DEFAULT ''`); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT seq, first_name, last_name FROM learners`)
		if err != nil {
			return err
		}
		type key struct {
			seq int64
			k   string
		}
		var keys []key
		for rows.Next() {
			var seq int64
			var first, last string
			if err := rows.Scan(&seq, &first, &last); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, key{seq, keyset.NameKey(first, last)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		upd, err := tx.PrepareContext(ctx, `UPDATE learners SET sort_name = ? WHERE seq = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		for _, k := range keys {
			if _, err := upd.ExecContext(ctx, k.k, k.seq); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DROP INDEX learners_org_name`,
			`CREATE INDEX learners_org_name ON learners (org, sort_name)`,
			`ALTER TABLE learners DROP COLUMN search`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}}, nil)
}
