package importer

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/roster-dev/roster"
)

// snapshot is what the comparison keeps of the stored learners: for each email a
// fingerprint of the columns the file has, and the owner of each employee id. It is taken
// once, by one scan, before the first row is compared, so a million rows cost one pass
// over the table instead of a query per chunk, and inside a transaction the comparison
// sees the learners as they were before this import wrote anything (exactly what a
// preview saw).
//
// Its keys are 64-bit hashes, half the size of the file's duplicate keys: a collision here
// is harmless, because every "changed" row is read back by its exact email, and every
// employee id conflict is confirmed by its exact id before it is reported.
type snapshot struct {
	byEmail map[uint64]uint64 // email -> fingerprint over the file's columns
	byEmpID map[uint64]uint64 // employee id -> email
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

	pending []record               // rows whose stored learner must be read back
	out     []roster.LearnerChange // changes not yet written

	// Writing runs on a goroutine of its own (see startWriter), so that the store works on
	// one batch while the next is prepared. txMu keeps the transaction to one call at a time.
	txMu     sync.Mutex
	writes   chan []roster.LearnerChange
	writeErr chan error
	cancel   context.CancelFunc
}

// startWriter starts the goroutine that hands batches of changes to the transaction. On
// PostgreSQL the server indexes one batch while this process prepares the next; on SQLite
// the engine writes on one core while the file is read and checked on the other.
func (c *comparer) startWriter(ctx context.Context) {
	c.writes = make(chan []roster.LearnerChange, 1)
	c.writeErr = make(chan error, 1)
	go func() {
		var err error
		for batch := range c.writes {
			if err != nil || c.anyError.Load() {
				continue // a failed or invalid import is rolled back: drain, write nothing
			}
			c.txMu.Lock()
			err = c.env.Tx.Write(ctx, batch)
			c.txMu.Unlock()
			if err != nil {
				c.cancel()
			}
		}
		c.writeErr <- err
	}()
}

// locked runs a store call, holding the transaction when there is one.
func (c *comparer) locked(fn func() error) error {
	if c.env.Tx == nil {
		return fn()
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()
	return fn()
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
	s := &snapshot{byEmail: map[uint64]uint64{}, byEmpID: map[uint64]uint64{}}
	err := c.lookup.ScanLearners(ctx, func(l *roster.Learner) error {
		ek := c.h.key(l.Email)[0]
		s.byEmail[ek] = c.storedFingerprint(l)
		if l.EmployeeID != "" {
			s.byEmpID[c.h.key(l.EmployeeID)[0]] = ek
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

// Batching across chunks: rows that may change are read back, and changes written, in
// batches larger than a chunk, because each is a round trip to the store (on PostgreSQL a
// COPY or a query) and 1,000 of them for a million rows cost more than the work itself.
const (
	fetchBatch = 4096
	writeBatch = 8192
	// outCap is the most changes the write buffer holds: it is handed on once it reaches
	// writeBatch after a chunk, which may add a chunk of new rows and a fetch batch of
	// changed ones. Allocated at that size, it never grows: growing it copied each batch
	// of a million-row commit (0.4 s of its CPU).
	outCap = writeBatch + fetchBatch + 2*chunkSize
)

// compare classifies one chunk. New rows go to the write buffer; rows whose fingerprint
// differs are kept until enough of them are pending to read them back in one query.
func (c *comparer) compare(ctx context.Context, chunk []record) error {
	wantChanges := c.env.Tx != nil || c.env.OnChange != nil
	if c.snap == nil && !wantChanges {
		// A preview against an empty organization: every valid row is new.
		for i := range chunk {
			c.setKind(chunk[i].row, kindNew)
		}
		return nil
	}
	var conflicts []int // indexes of rows whose employee id another learner may hold
	for i := range chunk {
		r := &chunk[i]
		ek := c.h.key(r.f[cEmail])[0]
		if c.snap != nil {
			if id := r.f[cEmpID]; id != "" {
				if owner, held := c.snap.byEmpID[c.h.key(id)[0]]; held && owner != ek {
					conflicts = append(conflicts, i)
					continue
				}
			}
		}
		fp, stored := uint64(0), false
		if c.snap != nil {
			fp, stored = c.snap.byEmail[ek]
		}
		if !stored {
			c.setKind(r.row, kindNew)
			if wantChanges {
				c.emit(roster.LearnerChange{Row: r.row, Kind: roster.ChangeNew, After: newLearner(r)})
			}
			continue
		}
		if rfp, full := c.rowFingerprint(r); full && rfp == fp {
			c.setKind(r.row, kindUnchanged)
			continue
		}
		c.pending = append(c.pending, *r)
	}
	if len(conflicts) > 0 {
		if err := c.reportConflicts(ctx, chunk, conflicts); err != nil {
			return err
		}
	}
	if len(c.pending) >= fetchBatch {
		if err := c.resolve(ctx); err != nil {
			return err
		}
	}
	if len(c.out) >= writeBatch {
		c.write()
	}
	return nil
}

// flush settles what is pending at the end of the file and waits for the writer.
func (c *comparer) flush(ctx context.Context) error {
	err := c.resolve(ctx)
	if err == nil {
		c.write()
	}
	if c.writes != nil {
		close(c.writes)
		if werr := <-c.writeErr; err == nil {
			err = werr
		}
		c.writes = nil
	}
	return err
}

// resolve reads back the stored learners of the pending rows and compares them field by
// field: updated, or unchanged after all (a blank cell, say).
func (c *comparer) resolve(ctx context.Context) error {
	if len(c.pending) == 0 {
		return nil
	}
	emails := make([]string, len(c.pending))
	for i := range c.pending {
		emails[i] = c.pending[i].f[cEmail]
	}
	var ls []roster.Learner
	err := c.locked(func() (err error) { ls, err = c.lookup.LearnersByEmail(ctx, emails); return })
	if err != nil {
		return err
	}
	stored := make(map[string]*roster.Learner, len(ls))
	for i := range ls {
		stored[ls[i].Email] = &ls[i]
	}
	for i := range c.pending {
		r := &c.pending[i]
		st := stored[r.f[cEmail]]
		if st == nil {
			// In the snapshot but no longer stored: only possible outside a transaction,
			// when someone removed the learner meanwhile. It would be new.
			c.setKind(r.row, kindNew)
			c.emit(roster.LearnerChange{Row: r.row, Kind: roster.ChangeNew, After: newLearner(r)})
			continue
		}
		ch := roster.LearnerChange{Row: r.row, Kind: roster.ChangeUpdated}
		ch.After, ch.Changes = merge(st, r)
		if len(ch.Changes) == 0 {
			c.setKind(r.row, kindUnchanged)
			continue
		}
		c.setKind(r.row, kindUpdated)
		c.emit(ch)
	}
	c.pending = c.pending[:0]
	return nil
}

func (c *comparer) emit(ch roster.LearnerChange) {
	if c.env.OnChange != nil {
		c.env.OnChange(ch)
	}
	if c.env.Tx != nil {
		if c.out == nil {
			c.out = make([]roster.LearnerChange, 0, outCap)
		}
		c.out = append(c.out, ch)
	}
}

// write hands the buffered changes to the writer, unless the file already has errors
// (then everything is rolled back anyway).
func (c *comparer) write() {
	if len(c.out) == 0 || c.writes == nil {
		return
	}
	if !c.anyError.Load() {
		c.writes <- c.out
		c.out = make([]roster.LearnerChange, 0, outCap)
		return
	}
	clear(c.out)
	c.out = c.out[:0]
}

// reportConflicts confirms, by the exact employee id, that another learner holds it, and
// reports the row naming that learner. A row that turns out not to conflict (a hash
// collision in the snapshot) goes on to be compared like any other.
func (c *comparer) reportConflicts(ctx context.Context, chunk []record, conflicts []int) error {
	ids := make([]string, 0, len(conflicts))
	for _, i := range conflicts {
		ids = append(ids, chunk[i].f[cEmpID])
	}
	var holders []roster.Learner
	err := c.locked(func() (err error) { holders, err = c.lookup.LearnersByEmployeeID(ctx, ids); return })
	if err != nil {
		return err
	}
	byID := map[string]string{}
	for _, h := range holders {
		byID[h.EmployeeID] = h.Email
	}
	var rest []record
	for _, i := range conflicts {
		r := &chunk[i]
		id := r.f[cEmpID]
		holder := byID[id]
		if holder == "" || holder == r.f[cEmail] {
			rest = append(rest, *r)
			continue
		}
		c.setKind(r.row, kindInvalid)
		c.errs.add(roster.RowError{Row: r.row, Column: roster.ColEmployeeID, Code: roster.CodeEmployeeIDConflict, Value: id,
			Message: fmt.Sprintf("Employee id %s already belongs to %s. An email changes through a support request, never through a file.", id, holder)})
		c.anyError.Store(true)
	}
	// Not conflicts after all: they may be new or changed; reading them back decides.
	c.pending = append(c.pending, rest...)
	return nil
}

// has reports whether the organization has a learner with this email.
func (s *snapshot) has(k key) bool {
	if s == nil {
		return false
	}
	_, ok := s.byEmail[k[0]]
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
