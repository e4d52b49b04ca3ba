package importer

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync/atomic"

	"github.com/roster-dev/roster"
)

// snapshot is what the comparison keeps of the stored learners: for each email a
// fingerprint of the columns the file has, and the owner of each employee id. It is taken
// once, by one scan, before the first row is compared, so a million rows cost one pass
// over the table instead of a query per chunk, and inside a transaction the comparison
// sees the learners as they were before this import wrote anything (exactly what a
// preview saw).
type snapshot struct {
	byEmail map[key]uint64 // email -> fingerprint over the file's columns
	byEmpID map[key]key    // employee id -> email
}

// comparer classifies valid rows against the stored learners (new, updated, unchanged),
// checks employee ids against other learners, and writes the changes of a file that is
// still clean to the transaction. It runs on its own goroutine and owns its fields.
type comparer struct {
	env      Env
	lookup   roster.LearnerLookup
	h        hasher
	present  [nCols]bool // the columns the file has
	snap     *snapshot   // nil: the organization has no learners
	errs     *collector
	anyError *atomic.Bool
	kinds    []uint8 // by row number
}

func (c *comparer) setKind(row int, k uint8) {
	if row >= len(c.kinds) {
		n := max(row+1, 2*len(c.kinds))
		c.kinds = append(c.kinds, make([]uint8, n-len(c.kinds))...)
	}
	c.kinds[row] = k
}

// load takes the snapshot.
func (c *comparer) load(ctx context.Context) error {
	if c.lookup == nil {
		return nil
	}
	s := &snapshot{byEmail: map[key]uint64{}, byEmpID: map[key]key{}}
	err := c.lookup.ScanLearners(ctx, func(l *roster.Learner) error {
		ek := c.h.key(l.Email)
		s.byEmail[ek] = c.storedFingerprint(l)
		if l.EmployeeID != "" {
			s.byEmpID[c.h.key(l.EmployeeID)] = ek
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(s.byEmail) > 0 {
		c.snap = s
	}
	return nil
}

// The fingerprint of a learner over the file's columns (not the email, which is the key),
// and of a row whose cells in those columns are all filled: equal fingerprints mean the
// row changes nothing. Rows with blank cells are compared field by field instead.
func (c *comparer) storedFingerprint(l *roster.Learner) uint64 {
	return c.fingerprint([nCols]string{l.FirstName, l.LastName, "", l.EmployeeID, l.JobTitle,
		l.Department, l.Location, l.ManagerEmail, strconv.FormatBool(l.Active)})
}

func (c *comparer) rowFingerprint(r *record) (uint64, bool) {
	f := r.f
	for ci := 0; ci < nCols; ci++ {
		if ci != cEmail && c.present[ci] && f[ci] == "" {
			return 0, false
		}
	}
	if c.present[cActive] {
		v, _ := parseActive(f[cActive])
		f[cActive] = strconv.FormatBool(v)
	}
	return c.fingerprint(f), true
}

func (c *comparer) fingerprint(f [nCols]string) uint64 {
	var m maphash.Hash
	m.SetSeed(c.h.a)
	for ci := 0; ci < nCols; ci++ {
		if ci == cEmail || !c.present[ci] {
			continue
		}
		m.WriteString(f[ci])
		m.WriteByte(0)
	}
	return m.Sum64()
}

func (c *comparer) compare(ctx context.Context, chunk []record) error {
	wantChanges := c.env.Tx != nil || c.env.OnChange != nil
	if c.snap == nil && !wantChanges {
		// A preview against an empty organization: every valid row is new.
		for i := range chunk {
			c.setKind(chunk[i].row, kindNew)
		}
		return nil
	}

	// First pass: new, unchanged by fingerprint, or to be compared field by field.
	var fetch []string
	kinds := make([]uint8, len(chunk))
	conflicts := map[int]key{} // index -> the email key that holds the row's employee id
	for i := range chunk {
		r := &chunk[i]
		ek := c.h.key(r.f[cEmail])
		if c.snap != nil {
			if id := r.f[cEmpID]; id != "" {
				if owner, held := c.snap.byEmpID[c.h.key(id)]; held && owner != ek {
					conflicts[i] = owner
					continue
				}
			}
		}
		fp, stored := uint64(0), false
		if c.snap != nil {
			fp, stored = c.snap.byEmail[ek]
		}
		switch {
		case !stored:
			kinds[i] = kindNew
		default:
			if rfp, full := c.rowFingerprint(r); full && rfp == fp {
				kinds[i] = kindUnchanged
			} else {
				kinds[i] = kindUpdated // maybe: decided once the stored learner is read
				fetch = append(fetch, r.f[cEmail])
			}
		}
	}

	if len(conflicts) > 0 {
		if err := c.reportConflicts(ctx, chunk, conflicts); err != nil {
			return err
		}
	}
	stored := map[string]*roster.Learner{}
	if len(fetch) > 0 {
		ls, err := c.lookup.LearnersByEmail(ctx, fetch)
		if err != nil {
			return err
		}
		for i := range ls {
			stored[ls[i].Email] = &ls[i]
		}
	}

	var out []roster.LearnerChange
	for i := range chunk {
		r := &chunk[i]
		if _, bad := conflicts[i]; bad {
			c.setKind(r.row, kindInvalid)
			continue
		}
		var ch roster.LearnerChange
		switch kinds[i] {
		case kindUnchanged:
			c.setKind(r.row, kindUnchanged)
			continue
		case kindNew:
			ch = roster.LearnerChange{Row: r.row, Kind: roster.ChangeNew}
			if wantChanges {
				ch.After = newLearner(r)
			}
		case kindUpdated:
			st := stored[r.f[cEmail]]
			if st == nil {
				// The snapshot had it, the store no longer does: only possible outside a
				// transaction, when someone removed the learner meanwhile. Treat it as new.
				ch = roster.LearnerChange{Row: r.row, Kind: roster.ChangeNew, After: newLearner(r)}
				break
			}
			ch = roster.LearnerChange{Row: r.row, Kind: roster.ChangeUpdated}
			ch.After, ch.Changes = merge(st, r)
			if len(ch.Changes) == 0 {
				c.setKind(r.row, kindUnchanged)
				continue
			}
		}
		if ch.Kind == roster.ChangeNew {
			c.setKind(r.row, kindNew)
		} else {
			c.setKind(r.row, kindUpdated)
		}
		if wantChanges {
			if c.env.OnChange != nil {
				c.env.OnChange(ch)
			}
			out = append(out, ch)
		}
	}
	if c.env.Tx != nil && len(out) > 0 && !c.anyError.Load() {
		return c.env.Tx.Write(ctx, out)
	}
	return nil
}

// reportConflicts names, for each row whose employee id another learner holds, that
// learner (looked up for these rows only: conflicts are rare).
func (c *comparer) reportConflicts(ctx context.Context, chunk []record, conflicts map[int]key) error {
	ids := make([]string, 0, len(conflicts))
	for i := range conflicts {
		ids = append(ids, chunk[i].f[cEmpID])
	}
	holders, err := c.lookup.LearnersByEmployeeID(ctx, ids)
	if err != nil {
		return err
	}
	byID := map[string]string{}
	for _, h := range holders {
		byID[h.EmployeeID] = h.Email
	}
	for i := range conflicts {
		r := &chunk[i]
		id := r.f[cEmpID]
		holder := byID[id]
		if holder == "" {
			holder = "another learner"
		}
		c.errs.add(roster.RowError{Row: r.row, Column: roster.ColEmployeeID, Code: roster.CodeEmployeeIDConflict, Value: id,
			Message: fmt.Sprintf("Employee id %s already belongs to %s. An email changes through a support request, never through a file.", id, holder)})
	}
	c.anyError.Store(true)
	return nil
}

// has reports whether the organization has a learner with this email.
func (s *snapshot) has(k key) bool {
	if s == nil {
		return false
	}
	_, ok := s.byEmail[k]
	return ok
}

func newLearner(r *record) roster.Learner {
	l := roster.Learner{
		Email:        r.f[cEmail],
		FirstName:    r.f[cFirst],
		LastName:     r.f[cLast],
		EmployeeID:   r.f[cEmpID],
		JobTitle:     r.f[cTitle],
		Department:   r.f[cDept],
		Location:     r.f[cLoc],
		ManagerEmail: r.f[cManager],
	}
	if v, ok := parseActive(r.f[cActive]); ok {
		l.Active = v
	}
	l.Status = status(l.Active)
	return l
}

func status(active bool) string {
	if active {
		return roster.StatusActive
	}
	return roster.StatusInactive
}

// merge applies a row's non-blank cells to a stored learner: a blank cell, or a column the
// file does not have, never clears a stored value; the email never changes.
func merge(st *roster.Learner, r *record) (roster.Learner, []roster.FieldChange) {
	after := *st
	var changes []roster.FieldChange
	set := func(col string, dst *string, v string) {
		if v != "" && v != *dst {
			changes = append(changes, roster.FieldChange{Column: col, Before: *dst, After: v})
			*dst = v
		}
	}
	set(roster.ColFirstName, &after.FirstName, r.f[cFirst])
	set(roster.ColLastName, &after.LastName, r.f[cLast])
	set(roster.ColEmployeeID, &after.EmployeeID, r.f[cEmpID])
	set(roster.ColJobTitle, &after.JobTitle, r.f[cTitle])
	set(roster.ColDepartment, &after.Department, r.f[cDept])
	set(roster.ColLocation, &after.Location, r.f[cLoc])
	set(roster.ColManagerEmail, &after.ManagerEmail, r.f[cManager])
	if v, ok := parseActive(r.f[cActive]); ok && v != st.Active {
		changes = append(changes, roster.FieldChange{Column: roster.ColMembershipActive,
			Before: strconv.FormatBool(st.Active), After: strconv.FormatBool(v)})
		after.Active = v
	}
	after.Status = status(after.Active)
	return after, changes
}
