package postgres

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"

	"github.com/roster-dev/roster/internal/keyset"
)

// nameKeyMigration (version 6) gives learners sort_name, the name sort's and the search's
// folded key (keyset.NameKey: case and accents removed), in place of the search column,
// and puts the name index on it. Written in Go because the key is Go's fold, which SQL
// cannot reproduce (unaccent folds otherwise, and is an extension); the stored learners
// get theirs in batches of the primary key.
//
// Before: names sorted and searched byte-wise, so "de la Cruz" and "Ávila" came after Z and
// "jose" did not find José; and every learner carried a search column with its email.
func nameKeyMigration() *goose.Migration {
	return goose.NewGoMigration(6, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		for _, q := range []string{
			`ALTER TABLE learners ADD COLUMN sort_name text COLLATE "C" NOT NULL DEFAULT ''`,
			`ALTER TABLE learners DROP COLUMN search`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		var org, seq int64 = -1, -1
		for {
			rows, err := tx.QueryContext(ctx, `SELECT org, seq, first_name, last_name FROM learners
				WHERE (org, seq) > ($1, $2) ORDER BY org, seq LIMIT 10000`, org, seq)
			if err != nil {
				return err
			}
			var orgs, seqs []int64
			var keys []string
			for rows.Next() {
				var first, last string
				if err := rows.Scan(&org, &seq, &first, &last); err != nil {
					rows.Close()
					return err
				}
				orgs, seqs, keys = append(orgs, org), append(seqs, seq), append(keys, keyset.NameKey(first, last))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(keys) == 0 {
				break
			}
			if _, err := tx.ExecContext(ctx, `UPDATE learners l SET sort_name = u.k
				FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(org, seq, k)
				WHERE l.org = u.org AND l.seq = u.seq`, orgs, seqs, keys); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DROP INDEX learners_org_name`,
			`CREATE INDEX learners_org_name ON learners (org, sort_name)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}}, nil)
}
