package importer

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/roster-dev/roster"
)

// comparer classifies valid rows against the stored learners (new, updated, unchanged),
// checks employee ids against other stored learners, and writes the changes of a file that
// is still clean to the transaction. It runs on its own goroutine and owns its fields.
type comparer struct {
	env        Env
	lookup     roster.LearnerLookup
	storeEmpty bool
	errs       *collector
	anyError   *atomic.Bool
	kinds      []uint8 // by row number

	// Employee ids this import moves between learners, for checks inside a transaction
	// where the lookups already see this import's earlier writes: released maps an id to
	// the email of the learner that gave it up, taken to the email that took it.
	released map[string]string
	taken    map[string]string
}

func (c *comparer) setKind(row int, k uint8) {
	if row >= len(c.kinds) {
		n := max(row+1, 2*len(c.kinds))
		c.kinds = append(c.kinds, make([]uint8, n-len(c.kinds))...)
	}
	c.kinds[row] = k
}

func (c *comparer) compare(ctx context.Context, chunk []record) error {
	if c.storeEmpty && c.env.Tx == nil && c.env.OnChange == nil {
		// A preview against an empty organization: every valid row is new, and nobody
		// wants the changes themselves.
		for i := range chunk {
			c.setKind(chunk[i].row, kindNew)
		}
		return nil
	}
	stored := map[string]*roster.Learner{}
	if !c.storeEmpty {
		emails := make([]string, len(chunk))
		for i := range chunk {
			emails[i] = chunk[i].f[cEmail]
		}
		ls, err := c.lookup.LearnersByEmail(ctx, emails)
		if err != nil {
			return err
		}
		for i := range ls {
			stored[ls[i].Email] = &ls[i]
		}
	}

	changes := make([]roster.LearnerChange, 0, len(chunk))
	var checkIDs []string
	needCheck := map[string][]int{} // employee id -> indexes into changes
	for i := range chunk {
		r := &chunk[i]
		st := stored[r.f[cEmail]]
		ch := roster.LearnerChange{Row: r.row}
		if st == nil {
			ch.Kind = roster.ChangeNew
			ch.After = newLearner(r)
		} else {
			ch.After, ch.Changes = merge(st, r)
			ch.Kind = roster.ChangeUpdated
		}
		if id := r.f[cEmpID]; id != "" && !c.storeEmpty && (st == nil || st.EmployeeID != id) {
			if _, seen := needCheck[id]; !seen {
				checkIDs = append(checkIDs, id)
			}
			needCheck[id] = append(needCheck[id], len(changes))
		}
		changes = append(changes, ch)
	}

	conflict := make(map[int]bool)
	if len(checkIDs) > 0 {
		holders, err := c.lookup.LearnersByEmployeeID(ctx, checkIDs)
		if err != nil {
			return err
		}
		held := map[string]*roster.Learner{}
		for i := range holders {
			held[holders[i].EmployeeID] = &holders[i]
		}
		for _, id := range checkIDs {
			for _, idx := range needCheck[id] {
				email := changes[idx].After.Email
				holder := ""
				if h := held[id]; h != nil && h.Email != email {
					// Inside a transaction the holder may be a learner this import created or
					// gave the id to; the duplicate check of the file reports those.
					if !(c.env.Tx != nil && (h.CreatedBatchID == c.env.Tx.BatchID() || c.taken[id] == h.Email)) {
						holder = h.Email
					}
				} else if h == nil && c.released[id] != "" && c.released[id] != email {
					holder = c.released[id]
				}
				if holder != "" {
					conflict[idx] = true
					c.errs.add(roster.RowError{Row: changes[idx].Row, Column: roster.ColEmployeeID, Code: roster.CodeEmployeeIDConflict, Value: id,
						Message: fmt.Sprintf("Employee id %s already belongs to %s. To change a learner's email, ask support; a file never changes emails.", id, holder)})
					c.anyError.Store(true)
				}
			}
		}
	}

	out := changes[:0]
	for i, ch := range changes {
		if conflict[i] {
			c.setKind(ch.Row, kindInvalid)
			continue
		}
		switch {
		case ch.Kind == roster.ChangeNew:
			c.setKind(ch.Row, kindNew)
		case len(ch.Changes) > 0:
			c.setKind(ch.Row, kindUpdated)
			for _, fc := range ch.Changes {
				if fc.Column == roster.ColEmployeeID && c.env.Tx != nil {
					if c.released == nil {
						c.released, c.taken = map[string]string{}, map[string]string{}
					}
					if fc.Before != "" {
						c.released[fc.Before] = ch.After.Email
					}
					c.taken[fc.After] = ch.After.Email
				}
			}
		default:
			c.setKind(ch.Row, kindUnchanged)
			continue
		}
		if c.env.OnChange != nil {
			c.env.OnChange(ch)
		}
		out = append(out, ch)
	}
	if c.env.Tx != nil && len(out) > 0 && !c.anyError.Load() {
		return c.env.Tx.Write(ctx, out)
	}
	return nil
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
