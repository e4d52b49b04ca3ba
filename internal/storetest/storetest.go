// Package storetest is the conformance suite of roster.Store: one set of tests that the
// SQLite and the PostgreSQL stores both run, so that they behave the same way.
//
// A store's test calls Run with a function that returns a fresh, empty store using the
// clock it is given:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) roster.Store {
//			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"), sqlite.Options{Now: now})
//			...
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// The suite owns the clock so that it can check the timestamps a store writes and move
// time forward (expired sessions, stale uploads). Its times have whole microseconds, which
// every engine keeps exactly.
//
// What the suite pins down beyond the interface's comments (both stores agree on it):
//   - Sorts: "name" orders by last name then first name, "department" and "location" by
//     that column, "created" by creation time, "email" by email; ties are broken in an
//     order of the store's choosing, which must be stable across pages. Comparisons are
//     checked on ASCII test data with consistent capitalisation, where byte order and
//     linguistic collations agree.
//   - Search is case-insensitive for any script ("JOSÉ" finds "José") and matches first
//     name, last name and email only.
//   - Limit 0 means 50. An unknown sort or status and a malformed cursor are EINVALID.
//   - Admin emails are matched case-insensitively (AdminByEmail("Ann@X.com") finds
//     "ann@x.com") and are unique across organizations.
//   - DeleteSession of a missing session is not an error; MarkUploadCommitted on a
//     committed upload is ECONFLICT.
//   - An ID of another organization, or one that is not an ID at all, is ENOTFOUND.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

// NewStore returns a fresh, empty store that takes its time from now. It should register
// the store's Close with t.Cleanup.
type NewStore func(t *testing.T, now func() time.Time) roster.Store

// Run runs the whole suite, each subtest on a fresh store.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Organizations", testOrganizations},
		{"OrganizationConflicts", testOrganizationConflicts},
		{"SetDomains", testSetDomains},
		{"EmptyOrgID", testEmptyOrgID},
		{"ImportInsert", testImportInsert},
		{"ImportUpdate", testImportUpdate},
		{"ImportNilBatch", testImportNilBatch},
		{"ImportErrorRollsBack", testImportErrorRollsBack},
		{"ImportStale", testImportStale},
		{"ImportUnknownOrg", testImportUnknownOrg},
		{"ImportVisibleAtCommit", testImportVisibleAtCommit},
		{"ImportUniqueEmail", testImportUniqueEmail},
		{"ImportUniqueEmployeeID", testImportUniqueEmployeeID},
		{"ImportUpdateOtherOrg", testImportUpdateOtherOrg},
		{"Lookups", testLookups},
		{"LookupManyKeys", testLookupManyKeys},
		{"ScanLearners", testScanLearners},
		{"Pagination", testPagination},
		{"Facets", testFacets},
		{"CreatedOrder", testCreatedOrder},
		{"BatchFilter", testBatchFilter},
		{"PaginationTies", testPaginationTies},
		{"SearchCaseInsensitive", testSearch},
		{"ListingErrors", testListingErrors},
		{"EachLearner", testEachLearner},
		{"ImportBatches", testImportBatches},
		{"Isolation", testIsolation},
		{"Admins", testAdmins},
		{"Sessions", testSessions},
		{"Tokens", testTokens},
		{"SignInFailures", testSignInFailures},
		{"JobRuns", testJobRuns},
		{"UploadRoundTrip", testUploadRoundTrip},
		{"UploadReadError", testUploadReadError},
		{"UploadErrors", testUploadErrors},
		{"UploadErrorsOrder", testUploadErrorsOrder},
		{"UploadCommit", testUploadCommit},
		{"DeleteUploadsBefore", testDeleteUploadsBefore},
		{"ConcurrentImportsSerialise", testConcurrentImports},
		{"ConcurrentImportsStale", testConcurrentStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &Clock{t: time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)}
			s := newStore(t, clock.Now)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			tc.fn(t, &env{s: s, clock: clock, ctx: context.Background()})
		})
	}
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// env is what every subtest gets.
type env struct {
	s     roster.Store
	clock *Clock
	ctx   context.Context
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, err error, code string, what string) {
	t.Helper()
	if got := roster.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// org creates an organization with the domain slug + ".com".
func (e *env) org(t *testing.T, slug string) *roster.Organization {
	t.Helper()
	o := &roster.Organization{Slug: slug, Name: "Org " + slug, Domains: []string{slug + ".com"}}
	must(t, e.s.CreateOrganization(e.ctx, o), "CreateOrganization "+slug)
	return o
}

// person returns a complete new learner of the organization whose domain is slug.com.
func person(slug string, i int) roster.Learner {
	return roster.Learner{
		Email:        fmt.Sprintf("person%04d@%s.com", i, slug),
		FirstName:    fmt.Sprintf("First%04d", i),
		LastName:     fmt.Sprintf("Last%04d", i),
		EmployeeID:   fmt.Sprintf("E%04d", i),
		JobTitle:     "Engineer",
		Department:   "Engineering",
		Location:     "Berlin",
		ManagerEmail: "boss@" + slug + ".com",
		Timezone:     "Europe/Berlin",
		Active:       i%2 == 0,
	}
}

func newChanges(ls ...roster.Learner) []roster.LearnerChange {
	out := make([]roster.LearnerChange, len(ls))
	for i, l := range ls {
		out[i] = roster.LearnerChange{Row: i + 2, Kind: roster.ChangeNew, After: l}
	}
	return out
}

// importNew imports the learners as new in one batch and returns the batch.
func (e *env) importNew(t *testing.T, orgID string, ls ...roster.Learner) *roster.ImportBatch {
	t.Helper()
	b, err := e.s.Import(e.ctx, orgID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, newChanges(ls...)); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "storetest", FileName: "people.csv", Format: "csv", Rows: len(ls), New: len(ls)}, nil
	})
	must(t, err, "Import")
	if b == nil {
		t.Fatal("Import returned a nil batch")
	}
	return b
}

// byEmail returns the stored learner with that email, failing the test when there is none.
func (e *env) byEmail(t *testing.T, orgID, email string) roster.Learner {
	t.Helper()
	ls, err := e.s.Lookup(orgID).LearnersByEmail(e.ctx, []string{email})
	must(t, err, "LearnersByEmail")
	if len(ls) != 1 {
		t.Fatalf("LearnersByEmail(%s) = %d learners, want 1", email, len(ls))
	}
	return ls[0]
}

func (e *env) count(t *testing.T, orgID string) int {
	t.Helper()
	n, err := e.s.Lookup(orgID).CountLearners(e.ctx)
	must(t, err, "CountLearners")
	return n
}

func (e *env) version(t *testing.T, orgID string) int64 {
	t.Helper()
	o, err := e.s.OrganizationByID(e.ctx, orgID)
	must(t, err, "OrganizationByID")
	return o.LearnersVersion
}

func (e *env) batches(t *testing.T, orgID string) []roster.ImportBatch {
	t.Helper()
	bs, err := e.s.ImportBatches(e.ctx, orgID, 100)
	must(t, err, "ImportBatches")
	return bs
}

// errBoom is what a failing ImportFunc returns.
var errBoom = errors.New("boom")
