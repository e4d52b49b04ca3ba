package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/csvsafe"
	"github.com/roster-dev/roster/internal/idn"
	"github.com/roster-dev/roster/internal/importer/xlsxfile"
)

// Column positions in a record, the order of roster.Columns.
const (
	cFirst = iota
	cLast
	cEmail
	cEmpID
	cTitle
	cDept
	cLoc
	cManager
	cActive
	nCols
)

// freeText are the columns of free text, whose control characters plainText takes out.
var freeText = [...]int{cEmpID, cTitle, cDept, cLoc}

// record is one data row that passed every per-row rule, normalised, on its way to the
// comparison with the stored learners.
type record struct {
	row int
	f   [nCols]string
}

// key is a 128-bit hash of an email or an employee id. Duplicate detection keeps keys, not
// strings, so that a million rows cost a few dozen megabytes; at 128 bits a collision
// between two different values in one file is not a practical concern (~1e-26 at 1M rows).
type key [2]uint64

type hasher struct{ a, b maphash.Seed }

func newHasher() hasher { return hasher{maphash.MakeSeed(), maphash.MakeSeed()} }

func (h hasher) key(s string) key {
	return key{maphash.String(h.a, s), maphash.String(h.b, s)}
}

const chunkSize = 1000

// row kinds as the comparison decides them
const (
	kindNone uint8 = iota
	kindNew
	kindUpdated
	kindUnchanged
	kindInvalid
)

// dupGroup is the rows sharing one email or employee id, and that value.
type dupGroup struct {
	value string
	rows  []int32
	multi bool // employee ids: the group holds at least two different emails
}

// empFirst is the first row holding an employee id, and the first row holding that row's
// email: a later row with the id has the same email exactly when its email's first row is
// the same.
type empFirst struct{ row, emailRow int32 }

// run is the pipeline. The reading goroutine (the caller) reads, normalises and checks
// each row and detects duplicates; a second goroutine compares chunks of valid rows with
// the store and writes them when a transaction is given, so that on two cores reading and
// writing overlap.
func run(ctx context.Context, in Input, env Env) (*roster.ImportReport, error) {
	maxBytes, maxRows := env.Limits.MaxBytes, env.Limits.MaxRows
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	lookup := env.Lookup
	if env.Tx != nil {
		lookup = env.Tx
	}
	if env.Org == nil {
		return nil, roster.Errorf(roster.EINVALID, "no organization")
	}

	rep := &roster.ImportReport{File: roster.FileInfo{Name: in.Name}, Columns: map[string]string{}}
	errs := newCollector(nil)
	warns := newCollector(nil)
	if env.OnError != nil {
		// Both goroutines report errors: the callback is called under a lock, so that its
		// owner sees one call at a time.
		var mu sync.Mutex
		errs.sink = func(e roster.RowError) { mu.Lock(); env.OnError(e, false); mu.Unlock() }
		warns.sink = func(e roster.RowError) { mu.Lock(); env.OnError(e, true); mu.Unlock() }
	}

	sum := sha256.New()
	lim := &limitedReader{r: io.TeeReader(in.R, sum), max: maxBytes}
	finish := func() (*roster.ImportReport, error) {
		if rep.File.Format != "" || lim.n <= maxBytes {
			// Read what is left so that the digest is the whole file's (bounded by the limit).
			if _, err := io.Copy(io.Discard, lim); err != nil && !errors.Is(err, errTooLarge) {
				return nil, err
			}
		}
		if lim.n <= maxBytes {
			rep.File.SHA256 = hex.EncodeToString(sum.Sum(nil))
		}
		rep.File.Size = lim.n
		rep.ErrorCount, rep.Errors, rep.ErrorCodes = errs.count, errs.result(), errs.byCode
		rep.WarningCount, rep.Warnings = warns.count, warns.result()
		rep.Valid = rep.ErrorCount == 0
		return rep, nil
	}
	fileError := func(code, msg string) {
		switch code {
		case roster.CodeFileTooLarge:
			msg = fmt.Sprintf("The file is larger than %s. Split it into smaller files.", humanBytes(maxBytes))
		case roster.CodeTooManyRows:
			msg = fmt.Sprintf("The file has more than %d data rows. Split it into smaller files.", maxRows)
		}
		errs.add(roster.RowError{Row: 0, Code: code, Message: msg})
	}

	src, ferr, err := open(lim, maxBytes)
	if err != nil {
		return nil, err
	}
	if ferr != nil {
		fileError(ferr.code, ferr.msg)
		return finish()
	}
	defer src.close()
	rep.File.Format = src.format
	if src.csv != nil {
		// Known once the file is open, and reported even when the header fails: a wrong
		// delimiter is the likeliest reason it did.
		rep.File.Encoding = src.csv.Encoding()
		rep.File.Delimiter = string(src.csv.Delimiter())
	}

	// The header: the first record that is not blank.
	var hdr *header
	for {
		rec, err := src.rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if code, msg, ok := contentError(err); ok {
				fileError(code, msg)
				return finish()
			}
			return nil, err
		}
		if blank(rec.Cells) {
			continue
		}
		h, ok := mapHeader(rec.Row, rec.Cells, errs.add, warns.add)
		for k, v := range h.written {
			rep.Columns[k] = v
		}
		if !ok {
			return finish()
		}
		hdr = h
		break
	}
	if hdr == nil {
		fileError(roster.CodeEmptyFile, "The file has no header row and no learners.")
		return finish()
	}
	orgDomains := newDomainSet(env.Org)
	if env.Org.HRISProvider != "" {
		warns.add(roster.RowError{Row: 0, Code: roster.WarnHRISManaged, Value: env.Org.HRISProvider,
			Message: fmt.Sprintf("Your organization syncs learners from %s; the next sync will overwrite the fields it owns.", env.Org.HRISProvider)})
	}

	// The comparing goroutine: it first takes a snapshot of the stored learners (while this
	// one reads ahead), then compares chunk after chunk.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var anyError atomic.Bool
	h := newHasher()
	cmp := &comparer{env: env, lookup: lookup, h: h, errs: newCollector(errs.sink), anyError: &anyError, cancel: cancel}
	for ci := range cmp.present {
		cmp.present[ci] = hdr.index[ci] >= 0
	}
	// Chunks go round between the two goroutines instead of being allocated anew: at a
	// million rows that is most of the garbage the pipeline would make.
	chunks := make(chan []record, 32)
	free := make(chan []record, 34)
	cmpDone := make(chan error, 1)
	go func() {
		err := cmp.load(ctx)
		if err != nil {
			cancel()
		} else if env.Tx != nil {
			cmp.startWriter(ctx)
		}
		for c := range chunks {
			if err == nil {
				if err = cmp.compare(ctx, c); err != nil {
					cancel()
				}
			}
			select {
			case free <- c[:0]:
			default:
			}
		}
		if err == nil && ctx.Err() == nil {
			if err = cmp.flush(ctx); err != nil {
				cancel()
			}
		} else if cmp.writes != nil {
			close(cmp.writes)
			if werr := <-cmp.writeErr; err == nil {
				err = werr // the store failed: say why, not just "cancelled"
			}
		}
		cmpDone <- err
	}()

	emails := make(map[key]int32)
	dupEmail := make(map[key]*dupGroup)
	// Employee id -> the first row that has it. Whether a later row has another email is
	// read from emails: the first row's email first appeared on that very row unless it was
	// already a duplicate (then the row is in error anyway). Keeping the row, not the email
	// key, saves 40 MB at a million rows.
	emps := make(map[key]empFirst)
	dupEmp := make(map[key]*dupGroup)
	managers := make(map[string][]int32)
	var invalid bitset
	guessed := false
	chunk := make([]record, 0, chunkSize)
	send := func() bool {
		if len(chunk) == 0 {
			return true
		}
		select {
		case chunks <- chunk:
			select {
			case chunk = <-free:
			default:
				chunk = make([]record, 0, chunkSize)
			}
			return true
		case <-ctx.Done():
			return false
		}
	}
	var readErr error
	nrows := 0
read:
	for {
		rec, err := src.rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if code, msg, ok := contentError(err); ok {
				fileError(code, msg)
				anyError.Store(true)
				break
			}
			readErr = err
			break
		}
		if blank(rec.Cells) {
			continue
		}
		if nrows == maxRows {
			fileError(roster.CodeTooManyRows, "")
			anyError.Store(true)
			break
		}
		nrows++
		if nrows%10000 == 0 {
			if ctx.Err() != nil {
				break read
			}
			if env.Progress != nil {
				env.Progress(nrows, lim.n)
			}
		}
		row := rec.Row
		before := errs.count
		if rec.Malformed != "" {
			errs.add(roster.RowError{Row: row, Code: roster.CodeMalformedRow, Value: clip(strings.Join(rec.Cells, ",")),
				Message: "This row could not be read: " + rec.Malformed + "."})
			invalid.set(row)
			anyError.Store(true)
			continue
		}
		if len(rec.Cells) > hdr.width && !blank(rec.Cells[hdr.width:]) {
			warns.add(roster.RowError{Row: row, Code: roster.WarnExtraCells, Value: clip(strings.Join(rec.Cells[hdr.width:], ",")),
				Message: fmt.Sprintf("This row has %d cells but the header has %d; the extra cells are ignored.", len(rec.Cells), hdr.width)})
		}
		var r record
		r.row = row
		for ci := 0; ci < nCols; ci++ {
			i := hdr.index[ci]
			if i < 0 || i >= len(rec.Cells) {
				continue
			}
			v, g := normalise(rec.Cells[i])
			guessed = guessed || g
			r.f[ci] = v
		}
		r.f[cEmail] = normEmail(r.f[cEmail])
		r.f[cManager] = normEmail(r.f[cManager])
		for _, ci := range freeText {
			r.f[ci] = plainText(r.f[ci])
		}
		// An export's formula guard ("'=…") is not part of the value. Taken off last, once
		// the value is what will be stored, so that what the export wrote is what it reads.
		for ci := range r.f {
			if u := csvsafe.Unquote(r.f[ci]); len(u) != len(r.f[ci]) {
				r.f[ci] = strings.TrimFunc(u, isTrimSpace)
			}
		}
		checkRow(&r, env.Org, orgDomains, errs.add)

		// Duplicates: every row with a well-formed email takes part, valid or not.
		if e := r.f[cEmail]; e != "" && validEmail(e) && utf8.RuneCountInString(e) <= 254 {
			k := h.key(e)
			if first, seen := emails[k]; seen {
				g := dupEmail[k]
				if g == nil {
					g = &dupGroup{value: e, rows: []int32{first}}
					dupEmail[k] = g
				}
				g.rows = append(g.rows, int32(row))
				anyError.Store(true)
			} else {
				emails[k] = int32(row)
			}
			if id := r.f[cEmpID]; id != "" && utf8.RuneCountInString(id) <= 64 {
				ik := h.key(id)
				if first, seen := emps[ik]; seen {
					g := dupEmp[ik]
					if g == nil {
						g = &dupGroup{value: id, rows: []int32{first.row}}
						dupEmp[ik] = g
					}
					g.rows = append(g.rows, int32(row))
					// Another email than the id's first row had: rows of one email are
					// duplicate_email already, not two learners sharing an id.
					if emails[k] != first.emailRow {
						g.multi = true
						anyError.Store(true)
					}
				} else {
					emps[ik] = empFirst{row: int32(row), emailRow: emails[k]}
				}
			}
		}
		if errs.count > before {
			invalid.set(row)
			anyError.Store(true)
			continue
		}
		if m := r.f[cManager]; m != "" {
			if m == r.f[cEmail] {
				warns.add(roster.RowError{Row: row, Column: roster.ColManagerEmail, Code: roster.WarnSelfManager, Value: m,
					Message: "The learner is named as their own manager."})
			} else {
				managers[m] = append(managers[m], int32(row))
			}
		}
		chunk = append(chunk, r)
		if len(chunk) == chunkSize && !send() {
			break
		}
	}
	if readErr == nil {
		send()
	}
	close(chunks)
	if err := <-cmpDone; err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.Rows = nrows
	if nrows == 0 && errs.count == 0 {
		fileError(roster.CodeEmptyFile, "The file has a header row but no learners.")
	}
	if guessed {
		rep.File.Encoding = "windows-1252"
		warns.add(roster.RowError{Row: 0, Code: roster.WarnEncodingGuessed, Value: "windows-1252",
			Message: "The file is not valid UTF-8; it was read as Windows-1252. Check that accented letters look right, or save the file as UTF-8."})
	}

	// Duplicate groups, now that the whole file is known. A file of one repeated value
	// makes millions of errors here: the loops stop when the upload is cancelled.
	checked := 0
	cancelled := func() bool {
		checked++
		return checked%4096 == 0 && ctx.Err() != nil
	}
	for _, g := range dupEmail {
		for _, row := range g.rows {
			if cancelled() {
				return nil, ctx.Err()
			}
			invalid.set(int(row))
			errs.add(roster.RowError{Row: int(row), Column: roster.ColEmployeeEmail, Code: roster.CodeDuplicateEmail,
				Value: g.value, Message: "This email also appears in " + otherRows(g.rows, row) + "."})
		}
	}
	for _, g := range dupEmp {
		if !g.multi {
			continue
		}
		for _, row := range g.rows {
			if cancelled() {
				return nil, ctx.Err()
			}
			invalid.set(int(row))
			errs.add(roster.RowError{Row: int(row), Column: roster.ColEmployeeID, Code: roster.CodeDuplicateEmployeeID,
				Value: g.value, Message: "This employee id is also used by another learner in " + otherRows(g.rows, row) + "."})
		}
	}
	errs.merge(cmp.errs)

	// Managers that are neither in the file nor stored learners.
	checkManagers(managers, emails, h, cmp.snap, warns)

	for row, k := range cmp.kinds {
		if k == kindNone || k == kindInvalid || invalid.has(row) {
			continue
		}
		switch k {
		case kindNew:
			rep.Summary.New++
		case kindUpdated:
			rep.Summary.Updated++
		case kindUnchanged:
			rep.Summary.Unchanged++
		}
	}
	return finish()
}

// damagedWorkbook begins the message of a workbook that cannot be read.
const damagedWorkbook = "The workbook is damaged and cannot be read"

// contentError tells a reading error caused by the file's content (too large, a damaged
// workbook) from a failure of the machine: the first is a file error in the report.
func contentError(err error) (code, msg string, ok bool) {
	switch {
	case errors.Is(err, errTooLarge), errors.Is(err, xlsxfile.ErrTooLarge):
		return roster.CodeFileTooLarge, "", true
	case errors.Is(err, xlsxfile.ErrNotWorkbook):
		return roster.CodeUnsupportedFormat, damagedWorkbook + " past this point. Save it again from your spreadsheet program, or export it as CSV.", true
	}
	return "", "", false
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimFunc(c, isTrimSpace) != "" {
			return false
		}
	}
	return true
}

// clip keeps a value short enough for a report.
func clip(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if utf8.RuneCountInString(s) > 300 {
		return string([]rune(s)[:300]) + "…"
	}
	return s
}

// otherRows names the rows of g (which holds self once) other than self: the first ten,
// and how many more. It looks at eleven rows at most: it runs for every row of a group,
// and a placeholder repeated down a file ("TBD", "noemail@acme.com") makes one group as
// large as the file, so a loop over the group here made validation quadratic (40,000
// rows took five minutes).
func otherRows(g []int32, self int32) string {
	others := make([]string, 0, 10)
	for _, r := range g {
		if len(others) == 10 {
			break
		}
		if r != self {
			others = append(others, strconv.Itoa(int(r)))
		}
	}
	more := ""
	if n := len(g) - 1; n > len(others) {
		more = fmt.Sprintf(" and %d more", n-len(others))
	}
	if len(others) == 1 {
		return "row " + others[0]
	}
	return "rows " + strings.Join(others, ", ") + more
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// domainSet holds an organization's email domains in ASCII form (internal/idn), so that
// an email written with an internationalised domain ("jane@bücher.example") belongs to
// the organization whatever spelling either side uses ("xn--bcher-kva.example").
type domainSet map[string]bool

func newDomainSet(org *roster.Organization) domainSet {
	set := domainSet{}
	for _, d := range org.Domains {
		a, _ := idn.ASCII(d)
		set[a] = true
	}
	return set
}

func (s domainSet) has(domain string) bool {
	if s[domain] { // ASCII and lower-case already: emails are lower-cased on import
		return true
	}
	a, ok := idn.ASCII(domain)
	return ok && s[a]
}

// checkRow applies the per-row rules to a normalised record.
func checkRow(r *record, org *roster.Organization, domains domainSet, add func(roster.RowError)) {
	for ci, c := range roster.Columns {
		v := r.f[ci]
		if v == "" {
			if c.Required {
				add(roster.RowError{Row: r.row, Column: c.Name, Code: roster.CodeMissingRequired,
					Message: fmt.Sprintf("%s is required (column %s).", c.Label, c.Name)})
			}
			continue
		}
		// A string has at most as many code points as bytes: count only long ones.
		if c.Limit > 0 && len(v) > c.Limit && utf8.RuneCountInString(v) > c.Limit {
			add(roster.RowError{Row: r.row, Column: c.Name, Code: roster.CodeTooLong, Value: clip(v),
				Message: fmt.Sprintf("%s is %d characters long; the limit is %d.", c.Label, utf8.RuneCountInString(v), c.Limit)})
			continue
		}
		switch ci {
		case cFirst, cLast:
			if !validName(v) {
				add(roster.RowError{Row: r.row, Column: c.Name, Code: roster.CodeInvalidName, Value: clip(v),
					Message: fmt.Sprintf("%s may hold letters, spaces, apostrophes, hyphens and periods only.", c.Label)})
			}
		case cEmail, cManager:
			if !validEmail(v) {
				add(roster.RowError{Row: r.row, Column: c.Name, Code: roster.CodeInvalidEmail, Value: clip(v),
					Message: fmt.Sprintf("%q is not a usable email address (expected name@company.com).", clip(v))})
			} else if ci == cEmail && !domains.has(domainOf(v)) {
				add(roster.RowError{Row: r.row, Column: c.Name, Code: roster.CodeUnrecognizedDomain, Value: v,
					Message: fmt.Sprintf("%s is not one of your organization's email domains (%s).", domainOf(v), strings.Join(org.Domains, ", "))})
			}
		case cActive:
			if _, ok := parseActive(v); !ok {
				add(roster.RowError{Row: r.row, Column: c.Name, Code: roster.CodeInvalidValue, Value: clip(v),
					Message: "membership_active must be true or false (yes/no and 1/0 work too), or blank to leave it as is."})
			}
		}
	}
}

// checkManagers warns about manager emails found neither in the file nor among the
// organization's learners (the snapshot).
func checkManagers(managers map[string][]int32, emails map[key]int32, h hasher, snap *snapshot, warns *collector) {
	var unknown []string
	for m := range managers {
		k := h.key(m)
		if _, inFile := emails[k]; !inFile && !snap.has(k) {
			unknown = append(unknown, m)
		}
	}
	sort.Strings(unknown)
	for _, m := range unknown {
		for _, row := range managers[m] {
			warns.add(roster.RowError{Row: int(row), Column: roster.ColManagerEmail, Code: roster.WarnManagerNotFound, Value: m,
				Message: "The manager is neither in this file nor a learner of your organization."})
		}
	}
}
