package sqlite

import (
	"context"
	"strings"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/keyset"
)

// sortKeys are the columns of each sort, before the seq that breaks ties. Each has an index
// (org_id, columns...) whose implicit rowid is seq, so a page is a range scan of that index
// from the cursor on, however deep in the list it is.
var sortKeys = map[string][]string{
	"name":       {"sort_name"}, // keyset.NameKey: last and first name, folded
	"email":      {"email"},
	"created":    {}, // seq order is creation order
	"department": {"department"},
	"location":   {"location"},
}

// sortValues returns l's values for the sort's columns, as strings for the cursor.
func sortValues(sort string, l *roster.Learner) []string {
	switch sort {
	case "email":
		return []string{l.Email}
	case "created":
		return []string{}
	case "department":
		return []string{l.Department}
	case "location":
		return []string{l.Location}
	}
	return []string{keyset.NameKey(l.FirstName, l.LastName)}
}

// Learners returns one page of the organization's learners; see roster.LearnerFilter.
// Pages are found by keyset (a row's sort key, in the cursor, read forward for the next
// page or backward for the previous one), never by OFFSET.
func (db *DB) Learners(ctx context.Context, orgID string, f roster.LearnerFilter) (*roster.LearnerPage, error) {
	org, err := db.orgKey(ctx, db.r, orgID)
	if err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	keyset.Compose(&f)
	keys := sortKeys[f.Sort]

	from, where, args := filterWhere(org, f)

	cur, readDesc, err := keyset.Open(f.Cursor, f.Sort, f.Desc, len(keys))
	if err != nil {
		return nil, err
	}
	dir, cmp := " ASC", ">"
	if readDesc {
		dir, cmp = " DESC", "<"
	}
	ls := make([]roster.Learner, 0, f.Limit+1)
	seqs := make([]int64, 0, f.Limit+1)
	// Both steps below read one snapshot.
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, dbError(err, "learners")
	}
	defer tx.Rollback()
	run := func(cond string, condArgs []any, order []string) error {
		q := from + ` WHERE ` + strings.Join(append(where[:len(where):len(where)], cond), " AND ") +
			` ORDER BY ` + strings.Join(order, ", ") + ` LIMIT ?`
		a := append(append(args[:len(args):len(args)], condArgs...), f.Limit+1-len(ls))
		rows, err := tx.QueryContext(ctx, q, a...)
		if err != nil {
			return dbError(err, "learners")
		}
		defer rows.Close()
		for rows.Next() {
			var l roster.Learner
			seq, err := scanLearner(rows, orgID, &l)
			if err != nil {
				return dbError(err, "learners")
			}
			ls, seqs = append(ls, l), append(seqs, seq)
		}
		return dbError(rows.Err(), "learners")
	}
	order := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		order = append(order, k+dir)
	}
	order = append(order, "seq"+dir)
	if cur == nil {
		if err := run("1", nil, order); err != nil {
			return nil, err
		}
	} else {
		c := cur
		keyArgs := make([]any, len(c.Keys))
		for i, k := range c.Keys {
			keyArgs[i] = k
		}
		// A keyset page is two index ranges: the rest of the cursor's tie group (same sort
		// key, seq beyond the cursor), then the keys beyond the cursor's. One row-value
		// comparison over (keys, seq) would read the same rows, but SQLite cannot seek on
		// the implicit seq at the end of an index, and would step through the whole tie
		// group (a department of 100,000 learners) to find the cursor.
		if len(keys) > 0 {
			eq := strings.Join(keys, " = ? AND ") + " = ? AND seq " + cmp + " ?"
			if f.Sort != "email" { // emails are unique: no tie group
				if err := run(eq, append(keyArgs[:len(keyArgs):len(keyArgs)], c.Seq), []string{"seq" + dir}); err != nil {
					return nil, err
				}
			}
			if len(ls) <= f.Limit {
				beyond := "(" + strings.Join(keys, ", ") + ") " + cmp + " (" + placeholders(len(keys)) + ")"
				if err := run(beyond, keyArgs, order); err != nil {
					return nil, err
				}
			}
		} else if err := run("seq "+cmp+" ?", []any{c.Seq}, order); err != nil {
			return nil, err
		}
	}
	page := &roster.LearnerPage{}
	page.Learners, page.NextCursor, page.PrevCursor = keyset.Paginate(ls, seqs, cur, f.Sort, f.Desc, f.Limit,
		func(l *roster.Learner) []string { return sortValues(f.Sort, l) })
	return page, nil
}

// filterWhere returns the SELECT of learners for f (with the index it must read, for a
// search or a batch), the conditions of f's filters, the organization's first, and their
// arguments.
func filterWhere(org int64, f roster.LearnerFilter) (from string, where []string, args []any) {
	where, args, from = []string{"org = ?"}, []any{org}, selectLearner
	if terms := f.SearchTerms(); len(terms) > 0 {
		for _, term := range terms {
			// In the folded names (sort_name) or the email; instr is a plain substring
			// test: no LIKE wildcards to escape.
			where = append(where, "(instr(sort_name, ?) > 0 OR instr(email, ?) > 0)")
			args = append(args, term, term)
		}
		// No index serves a substring, so a search reads the organization's learners.
		// Left to itself SQLite walks the sort's index and fetches each row from it, in
		// the sort's order: a term few learners match read the whole table at random,
		// 2.9 s at a million learners. Through learners_org (org, then seq) the rows come
		// in table order, and the matches are sorted after: 0.2 s whatever the term
		// (a common term, which the sort's index would find in a few milliseconds, takes
		// the same 0.2 s; docs/web.md).
		from = selectLearner + " INDEXED BY learners_org"
	}
	if f.Batch != "" {
		// No index on the batch either, and a batch may have written few of the
		// learners: the same table-order read as a search.
		from = selectLearner + " INDEXED BY learners_org"
	}
	if f.Department != "" {
		where = append(where, "department = ?")
		args = append(args, f.Department)
	}
	if f.Location != "" {
		where = append(where, "location = ?")
		args = append(args, f.Location)
	}
	if f.Batch != "" {
		where = append(where, "updated_batch_id = ?")
		args = append(args, f.Batch)
	}
	switch f.Status { // Normalize refused any other
	case roster.StatusActive:
		where = append(where, "active = 1")
	case roster.StatusInactive:
		where = append(where, "active = 0")
	}
	return from, where, args
}

// LearnerFacets returns the organization's distinct departments and locations; see
// roster.LearnerFacets. Each is a walk of its (org, column) index.
func (db *DB) LearnerFacets(ctx context.Context, orgID string) (*roster.LearnerFacets, error) {
	org, err := db.orgKey(ctx, db.r, orgID)
	if err != nil {
		return nil, err
	}
	f := &roster.LearnerFacets{}
	for _, c := range []struct {
		column string
		out    *[]string
	}{{"department", &f.Departments}, {"location", &f.Locations}} {
		// Both column names are constants of this function.
		rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT `+c.column+` FROM learners
			WHERE org = ? AND `+c.column+` <> '' ORDER BY `+c.column+` LIMIT ?`, org, roster.MaxFacetValues+1)
		if err != nil {
			return nil, dbError(err, "learners")
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, dbError(err, "learners")
			}
			*c.out = append(*c.out, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbError(err, "learners")
		}
		if len(*c.out) > roster.MaxFacetValues {
			*c.out, f.Truncated = (*c.out)[:roster.MaxFacetValues], true
		}
	}
	return f, nil
}
