package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/ids"
	"github.com/roster-dev/roster/internal/keyset"
)

// directory imports a directory with many ties on every sort key into slug's organization
// (in three batches at three times) and returns what was stored.
func (e *env) directory(t *testing.T, orgID, slug string, n int) []roster.Learner {
	t.Helper()
	firsts := []string{"Anna", "Ben", "Carla", "Dmitri", "Eve", "Farah", "Gus"}
	lasts := []string{"Smith", "Jones", "Brown", "Taylor", "Wilson", "Annan"}
	depts := []string{"Engineering", "Sales", "Support", ""}
	locs := []string{"Berlin", "Paris", "Lisbon"}
	ls := make([]roster.Learner, n)
	for i := range ls {
		f, l := firsts[i%len(firsts)], lasts[(i*5/3)%len(lasts)]
		loc := locs[i%len(locs)]
		if i%10 == 0 {
			loc = ""
		}
		ls[i] = roster.Learner{
			Email:      fmt.Sprintf("%s.%s%03d@%s.com", strings.ToLower(f), strings.ToLower(l), i, slug),
			FirstName:  f,
			LastName:   l,
			EmployeeID: fmt.Sprintf("E%03d", i),
			Department: depts[i%len(depts)],
			Location:   loc,
			Active:     i%3 != 0,
		}
	}
	// Import in a shuffled order, so that no sort matches the order of insertion.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ls), func(i, j int) { ls[i], ls[j] = ls[j], ls[i] })
	for part := range 3 {
		e.clock.Advance(time.Minute)
		e.importNew(t, orgID, ls[part*n/3:(part+1)*n/3]...)
	}
	out := make([]roster.Learner, 0, n)
	err := e.s.EachLearner(e.ctx, orgID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error {
		out = append(out, *l)
		return nil
	})
	must(t, err, "EachLearner")
	if len(out) != n {
		t.Fatalf("stored %d learners, want %d", len(out), n)
	}
	return out
}

// sortCompare compares two learners on the suite's definition of each sort: its columns,
// then the order the learners were created in (the seq a learner ID carries), so that
// both stores list ties alike (PostgreSQL once broke department and location ties by name,
// SQLite by creation).
func sortCompare(sort string, a, b *roster.Learner) int {
	var c int
	switch sort {
	case "email":
		c = strings.Compare(a.Email, b.Email)
	case "created":
		c = a.CreatedAt.Compare(b.CreatedAt)
	case "department":
		c = strings.Compare(a.Department, b.Department)
	case "location":
		c = strings.Compare(a.Location, b.Location)
	default: // the folded names: case and accents aside (keyset.NameKey)
		c = strings.Compare(keyset.NameKey(a.FirstName, a.LastName), keyset.NameKey(b.FirstName, b.LastName))
	}
	sa, _ := ids.Counter("lrn_", a.ID)
	sb, _ := ids.Counter("lrn_", b.ID)
	return cmp.Or(c, cmp.Compare(sa, sb))
}

// matches is the suite's definition of a filter.
func matches(f roster.LearnerFilter, l *roster.Learner) bool {
	g := f
	g.Query = keyset.Fold(f.Query)
	for _, q := range g.SearchTerms() { // every word, in some field, case and accents aside
		if !strings.Contains(keyset.Fold(l.FirstName), q) &&
			!strings.Contains(keyset.Fold(l.LastName), q) &&
			!strings.Contains(l.Email, q) {
			return false
		}
	}
	if f.Department != "" && l.Department != f.Department {
		return false
	}
	if f.Location != "" && l.Location != f.Location {
		return false
	}
	if f.Status != "" && l.Status != f.Status {
		return false
	}
	if f.Batch != "" && l.UpdatedBatchID != f.Batch {
		return false
	}
	return true
}

// walk reads every page of f and checks it against all (the organization's learners):
// each matching learner exactly once, nothing else, in order, full pages but the last.
// Then it goes back from the last page to the first through PrevCursor: every page must
// be the one it saw going forward, and that page's NextCursor must lead forward again.
func (e *env) walk(t *testing.T, orgID string, f roster.LearnerFilter, all []roster.Learner) {
	t.Helper()
	base := f
	var forward [][]string // the IDs of each page
	var prevs []string     // each page's PrevCursor
	ids := func(p *roster.LearnerPage) []string {
		out := make([]string, len(p.Learners))
		for i := range p.Learners {
			out[i] = p.Learners[i].ID
		}
		return out
	}
	defer func() {
		if t.Failed() || len(forward) == 0 {
			return
		}
		what := fmt.Sprintf("filter %+v, going back", base)
		if prevs[0] != "" {
			t.Fatalf("%s: the first page has a previous cursor", what)
		}
		for i := len(forward) - 1; i > 0; i-- {
			if prevs[i] == "" {
				t.Fatalf("%s: page %d of %d has no previous cursor", what, i+1, len(forward))
			}
			f := base
			f.Cursor = prevs[i]
			back, err := e.s.Learners(e.ctx, orgID, f)
			must(t, err, what)
			if got := ids(back); !slices.Equal(got, forward[i-1]) {
				t.Fatalf("%s: page %d read back is %v, forward it was %v", what, i, got, forward[i-1])
			}
			if (back.PrevCursor != "") != (i-1 > 0) {
				t.Fatalf("%s: page %d read back: previous cursor %q", what, i, back.PrevCursor)
			}
			if back.NextCursor == "" {
				t.Fatalf("%s: page %d read back has no next cursor", what, i)
			}
			f.Cursor = back.NextCursor
			again, err := e.s.Learners(e.ctx, orgID, f)
			must(t, err, what)
			if got := ids(again); !slices.Equal(got, forward[i]) {
				t.Fatalf("%s: next of page %d read back is %v, want %v", what, i, got, forward[i])
			}
		}
	}()
	want := map[string]bool{}
	for i := range all {
		if matches(f, &all[i]) {
			want[all[i].ID] = true
		}
	}
	what := fmt.Sprintf("filter %+v", f)
	seen := map[string]bool{}
	var prev *roster.Learner
	pages := 0
	for {
		page, err := e.s.Learners(e.ctx, orgID, f)
		must(t, err, what)
		pages++
		if pages > len(all)+2 {
			t.Fatalf("%s: more pages than learners; the cursor does not advance", what)
		}
		if len(page.Learners) > f.Limit {
			t.Fatalf("%s: page of %d, limit %d", what, len(page.Learners), f.Limit)
		}
		if page.NextCursor != "" && len(page.Learners) < f.Limit {
			t.Fatalf("%s: short page (%d of %d) with a next cursor", what, len(page.Learners), f.Limit)
		}
		if len(page.Learners) == 0 && (pages > 1 || len(want) > 0) {
			t.Fatalf("%s: empty page %d", what, pages)
		}
		forward, prevs = append(forward, ids(page)), append(prevs, page.PrevCursor)
		for i := range page.Learners {
			l := &page.Learners[i]
			if !want[l.ID] {
				t.Fatalf("%s: got %s (%s %s, %s) which does not match or is another organization's", what, l.ID, l.FirstName, l.LastName, l.Email)
			}
			if seen[l.ID] {
				t.Fatalf("%s: %s seen twice", what, l.Email)
			}
			seen[l.ID] = true
			if prev != nil {
				c := sortCompare(f.Sort, prev, l)
				if (!f.Desc && c > 0) || (f.Desc && c < 0) {
					t.Fatalf("%s: %+v before %+v is out of order", what, *prev, *l)
				}
			}
			prev = l
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(seen) != len(want) {
		t.Fatalf("%s: saw %d learners, want %d", what, len(seen), len(want))
	}
	// EachLearner streams the same list, in the same order.
	var each []string
	must(t, e.s.EachLearner(e.ctx, orgID, base, func(l *roster.Learner) error { each = append(each, l.ID); return nil }), what)
	if paged := slices.Concat(forward...); !slices.Equal(each, paged) {
		t.Fatalf("%s: EachLearner gave %d learners %v, the pages %d %v", what, len(each), each, len(paged), paged)
	}
}

func testPagination(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	all := e.directory(t, a.ID, "acme", 157)
	e.directory(t, b.ID, "globex", 40) // same names and departments: must never show up
	filters := []roster.LearnerFilter{
		{},
		{Department: "Sales"},
		{Department: "Nobody"},
		{Location: "Paris"},
		{Status: roster.StatusActive},
		{Status: roster.StatusInactive, Location: "Berlin"},
		{Query: "ann"},
		{Query: "ANNA", Department: "Support"},
		{Query: "@acme.com"},
		{Query: "engineering"}, // a department, not a name: matches nobody
		{Query: "zzz"},
	}
	for _, sort := range []string{"name", "email", "created", "department", "location"} {
		for _, desc := range []bool{false, true} {
			for _, f := range filters {
				f.Sort, f.Desc, f.Limit = sort, desc, 7
				e.walk(t, a.ID, f, all)
			}
		}
	}
	e.walk(t, a.ID, roster.LearnerFilter{Sort: "name", Limit: 1}, all)
	e.walk(t, a.ID, roster.LearnerFilter{Sort: "email", Desc: true, Limit: 1000}, all)

	// The default sort is by name.
	page, err := e.s.Learners(e.ctx, a.ID, roster.LearnerFilter{Limit: 20})
	must(t, err, "Learners with the default sort")
	for i := 1; i < len(page.Learners); i++ {
		if sortCompare("name", &page.Learners[i-1], &page.Learners[i]) > 0 {
			t.Fatal("the default sort is not by name")
		}
	}
}

// testPaginationTies: learners identical on every sort key still come exactly once.
func testPaginationTies(t *testing.T, e *env) {
	o := e.org(t, "acme")
	ls := make([]roster.Learner, 23)
	for i := range ls {
		ls[i] = roster.Learner{Email: fmt.Sprintf("twin%02d@acme.com", i), FirstName: "Sam", LastName: "Same",
			Department: "Ops", Location: "Oslo", Active: true}
	}
	e.importNew(t, o.ID, ls...)
	var all []roster.Learner
	must(t, e.s.EachLearner(e.ctx, o.ID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error { all = append(all, *l); return nil }), "EachLearner")
	for _, sort := range []string{"name", "email", "created", "department", "location"} {
		for _, desc := range []bool{false, true} {
			for _, limit := range []int{1, 4, 23} {
				e.walk(t, o.ID, roster.LearnerFilter{Sort: sort, Desc: desc, Limit: limit}, all)
			}
		}
	}
}

func testSearch(t *testing.T, e *env) {
	o := e.org(t, "acme")
	people := []roster.Learner{
		{Email: "jose@acme.com", FirstName: "José", LastName: "Álvarez"},
		{Email: "zoe@acme.com", FirstName: "ZOË", LastName: "Ærø"},
		{Email: "lukasz@acme.com", FirstName: "Łukasz", LastName: "Żółć"},
		{Email: "jo_ann@acme.com", FirstName: "Jo", LastName: "Ann"},
		{Email: "li@acme.com", FirstName: "李", LastName: "小龙", Location: "Zürich"},
	}
	e.importNew(t, o.ID, people...)
	cases := map[string][]string{
		// Every word, each in some field: a full name as the table shows it finds its
		// learner (the whole query was once one substring, and "José Álvarez" found nobody).
		"José Álvarez":     {"jose@acme.com"},
		"  álvarez\tjosé ": {"jose@acme.com"},
		"jo ann":           {"jo_ann@acme.com"},
		"jose zoe":         {},
		// Case and accents aside (keyset.Fold), in names; emails are ASCII already.
		"alvarez":      {"jose@acme.com"},
		"ALVAREZ jose": {"jose@acme.com"},
		"zoe ærø":      {"zoe@acme.com"},
		"zoł":          {"lukasz@acme.com"},
		"JOSÉ":         {"jose@acme.com"},
		"álvarez":      {"jose@acme.com"},
		"zoë":          {"zoe@acme.com"},
		"ærø":          {"zoe@acme.com"},
		"ŻÓŁĆ":         {"lukasz@acme.com"},
		"łukasz":       {"lukasz@acme.com"},
		"小龙":           {"li@acme.com"},
		"_":            {"jo_ann@acme.com"}, // not a wildcard
		"%":            {},
		"e_a":          {}, // as a LIKE pattern it would match "jose@acme.com"
		"ACME.COM":     {"jose@acme.com", "zoe@acme.com", "lukasz@acme.com", "jo_ann@acme.com", "li@acme.com"},
	}
	for q, want := range cases {
		page, err := e.s.Learners(e.ctx, o.ID, roster.LearnerFilter{Query: q, Sort: "email", Limit: 100})
		must(t, err, "Learners(query "+q+")")
		got := map[string]bool{}
		for _, l := range page.Learners {
			got[l.Email] = true
		}
		if len(got) != len(want) {
			t.Errorf("query %q found %v, want %v", q, got, want)
			continue
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("query %q found %v, want %v", q, got, want)
			}
		}
	}
	// The name sort folds too: Álvarez is an a, before Ann; byte order had it after Z.
	page, err := e.s.Learners(e.ctx, o.ID, roster.LearnerFilter{Sort: "name"})
	must(t, err, "Learners(sort name)")
	var order []string
	for _, l := range page.Learners {
		order = append(order, l.LastName)
	}
	if len(order) < 2 || order[0] != "Álvarez" || order[1] != "Ann" {
		t.Errorf("name order %v, want Álvarez, Ann first", order)
	}
	// Filters match the stored (NFC) value however the text was composed.
	page, err = e.s.Learners(e.ctx, o.ID, roster.LearnerFilter{Location: "Zu\u0308rich "})
	must(t, err, "Learners(location decomposed)")
	if len(page.Learners) != 1 || page.Learners[0].Email != "li@acme.com" {
		t.Errorf("location \"Zu\\u0308rich\" found %d learners, want li@acme.com", len(page.Learners))
	}
}

func testListingErrors(t *testing.T, e *env) {
	o := e.org(t, "acme")
	ls := make([]roster.Learner, 60)
	for i := range ls {
		ls[i] = person("acme", i)
	}
	e.importNew(t, o.ID, ls...)
	page, err := e.s.Learners(e.ctx, o.ID, roster.LearnerFilter{})
	must(t, err, "Learners with a zero filter")
	if len(page.Learners) != 50 || page.NextCursor == "" {
		t.Fatalf("default page: %d learners, next %q; want 50 and a cursor", len(page.Learners), page.NextCursor)
	}
	_, err = e.s.Learners(e.ctx, o.ID, roster.LearnerFilter{Sort: "salary"})
	wantCode(t, err, roster.EINVALID, "unknown sort")
	_, err = e.s.Learners(e.ctx, o.ID, roster.LearnerFilter{Status: "sleeping"})
	wantCode(t, err, roster.EINVALID, "unknown status")
	for _, c := range []string{"!!!", "bm90IGEgY3Vyc29y", "eyJ4Ijp0cnVlfQ", strings.Repeat("A", 300)} {
		_, err = e.s.Learners(e.ctx, o.ID, roster.LearnerFilter{Cursor: c})
		wantCode(t, err, roster.EINVALID, "malformed cursor "+c)
	}
}

func testEachLearner(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	ls := make([]roster.Learner, 30)
	for i := range ls {
		ls[i] = person("acme", (i*17)%30) // not in email order
	}
	e.importNew(t, a.ID, ls...)
	e.importNew(t, b.ID, person("globex", 1), person("globex", 2))
	var emails []string
	err := e.s.EachLearner(e.ctx, a.ID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error {
		if !strings.HasSuffix(l.Email, "@acme.com") {
			t.Errorf("EachLearner(acme) gave %s", l.Email)
		}
		emails = append(emails, l.Email)
		return nil
	})
	must(t, err, "EachLearner")
	if len(emails) != 30 {
		t.Fatalf("EachLearner gave %d learners, want 30", len(emails))
	}
	for i := 1; i < len(emails); i++ {
		if emails[i-1] >= emails[i] {
			t.Fatalf("EachLearner not ordered by email: %s then %s", emails[i-1], emails[i])
		}
	}
	calls := 0
	err = e.s.EachLearner(e.ctx, a.ID, roster.LearnerFilter{Sort: "email"}, func(*roster.Learner) error {
		calls++
		if calls == 3 {
			return errBoom
		}
		return nil
	})
	if !errors.Is(err, errBoom) || calls != 3 {
		t.Fatalf("EachLearner with a failing fn: %v after %d calls; want fn's error after 3", err, calls)
	}

	// One moment: an import that moves every learner to another department, committed
	// after the first learner was read, changes nothing of what EachLearner gives (an
	// export paged through Learners missed learners and listed others twice).
	var before []string
	must(t, e.s.EachLearner(e.ctx, a.ID, roster.LearnerFilter{Sort: "department"}, func(l *roster.Learner) error {
		before = append(before, l.ID+" "+l.Department)
		return nil
	}), "EachLearner by department")
	var during []string
	err = e.s.EachLearner(e.ctx, a.ID, roster.LearnerFilter{Sort: "department"}, func(l *roster.Learner) error {
		if len(during) == 0 {
			var all []roster.Learner
			must(t, e.s.EachLearner(e.ctx, a.ID, roster.LearnerFilter{}, func(l *roster.Learner) error { all = append(all, *l); return nil }), "EachLearner")
			changes := make([]roster.LearnerChange, len(all))
			for i, x := range all {
				x.Department = fmt.Sprintf("Moved %02d", len(all)-i)
				changes[i] = roster.LearnerChange{Row: i + 2, Kind: roster.ChangeUpdated, After: x}
			}
			_, err := e.s.Import(e.ctx, a.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
				return &roster.ImportBatch{CreatedBy: "storetest", Rows: len(changes), Updated: len(changes)}, tx.Write(ctx, changes)
			})
			must(t, err, "an import during EachLearner")
		}
		during = append(during, l.ID+" "+l.Department)
		return nil
	})
	must(t, err, "EachLearner during an import")
	if !slices.Equal(during, before) {
		t.Fatalf("EachLearner during an import gave %v, before it %v", during, before)
	}
}

func testFacets(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	empty, err := e.s.LearnerFacets(e.ctx, a.ID)
	must(t, err, "facets of an empty directory")
	if len(empty.Departments) != 0 || len(empty.Locations) != 0 || empty.Truncated {
		t.Fatalf("facets of an empty directory: %+v", empty)
	}
	all := e.directory(t, a.ID, "acme", 60)
	// globex has a department and a location acme does not have: they must not show up.
	e.importNew(t, b.ID, roster.Learner{Email: "x@globex.com", FirstName: "X", LastName: "Y",
		Department: "Globex Only", Location: "Springfield"})
	depts, locs := map[string]bool{}, map[string]bool{}
	for _, l := range all {
		if l.Department != "" {
			depts[l.Department] = true
		}
		if l.Location != "" {
			locs[l.Location] = true
		}
	}
	want := func(m map[string]bool) []string {
		out := make([]string, 0, len(m))
		for v := range m {
			out = append(out, v)
		}
		slices.Sort(out)
		return out
	}
	f, err := e.s.LearnerFacets(e.ctx, a.ID)
	must(t, err, "facets")
	if !slices.Equal(f.Departments, want(depts)) || !slices.Equal(f.Locations, want(locs)) || f.Truncated {
		t.Fatalf("facets %+v, want departments %v and locations %v", f, want(depts), want(locs))
	}

	// More distinct values than MaxFacetValues: the first ones in order, and Truncated.
	c := e.org(t, "initech")
	many := make([]roster.Learner, roster.MaxFacetValues+5)
	for i := range many {
		many[i] = roster.Learner{Email: fmt.Sprintf("p%04d@initech.com", i), FirstName: "P", LastName: "Q",
			Department: fmt.Sprintf("Dept %04d", len(many)-i), Location: "Austin"}
	}
	e.importNew(t, c.ID, many...)
	f, err = e.s.LearnerFacets(e.ctx, c.ID)
	must(t, err, "facets of many departments")
	if len(f.Departments) != roster.MaxFacetValues || !f.Truncated || f.Departments[0] != "Dept 0001" ||
		!slices.IsSorted(f.Departments) || !slices.Equal(f.Locations, []string{"Austin"}) {
		t.Fatalf("facets of %d departments: %d (truncated %v), first %q, locations %v",
			len(many), len(f.Departments), f.Truncated, f.Departments[0], f.Locations)
	}
}

// testCreatedOrder: "created" order is import order; learners written by one batch of an
// import are numbered in email order (both stores insert them so, to keep their email
// index's writes in key order), so their order is the same in both stores.
func testCreatedOrder(t *testing.T, e *env) {
	a := e.org(t, "acme")
	e.importNew(t, a.ID, roster.Learner{Email: "zed@acme.com", FirstName: "Z", LastName: "Z"})
	e.clock.Advance(time.Minute)
	e.importNew(t, a.ID,
		roster.Learner{Email: "carol@acme.com", FirstName: "C", LastName: "C"},
		roster.Learner{Email: "alice@acme.com", FirstName: "A", LastName: "A"},
		roster.Learner{Email: "bob@acme.com", FirstName: "B", LastName: "B"})
	page, err := e.s.Learners(e.ctx, a.ID, roster.LearnerFilter{Sort: "created"})
	must(t, err, "created order")
	var got []string
	for _, l := range page.Learners {
		got = append(got, l.Email)
	}
	if want := []string{"zed@acme.com", "alice@acme.com", "bob@acme.com", "carol@acme.com"}; !slices.Equal(got, want) {
		t.Fatalf("created order %v, want %v", got, want)
	}
}

// testBatchFilter: Batch selects the learners whose latest change came from a batch: the
// ones it added and nobody changed since, and the ones it changed.
func testBatchFilter(t *testing.T, e *env) {
	a := e.org(t, "acme")
	all := e.directory(t, a.ID, "acme", 60) // three batches of 20
	first := all[0].CreatedBatchID
	// A fourth import changes five learners of the first batch.
	var changed []roster.LearnerChange
	for i := range all {
		if all[i].CreatedBatchID == first && len(changed) < 5 {
			after := all[i]
			after.JobTitle = "Changed"
			changed = append(changed, roster.LearnerChange{Row: len(changed) + 2, Kind: roster.ChangeUpdated, After: after})
		}
	}
	e.clock.Advance(time.Minute)
	upd, err := e.s.Import(e.ctx, a.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, changed); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "storetest", FileName: "changes.csv", Format: "csv", Rows: 5, Updated: 5}, nil
	})
	must(t, err, "update import")
	all = all[:0]
	must(t, e.s.EachLearner(e.ctx, a.ID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error { all = append(all, *l); return nil }), "EachLearner")
	perBatch := map[string]int{}
	for _, l := range all {
		perBatch[l.UpdatedBatchID]++
	}
	if perBatch[first] != 15 || perBatch[upd.ID] != 5 {
		t.Fatalf("learners per latest batch %v: want 15 for the first and 5 for the update", perBatch)
	}
	for _, f := range []roster.LearnerFilter{
		{Batch: first},
		{Batch: upd.ID},
		{Batch: upd.ID, Query: "anna"},
		{Batch: "bat_nonexistent"},
	} {
		for _, sort := range []string{"name", "created"} {
			f.Sort, f.Limit = sort, 4
			e.walk(t, a.ID, f, all)
		}
	}
}
