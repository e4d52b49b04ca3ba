package roster

import (
	"context"
	"strings"
	"time"
	"unicode"
)

// Organization owns email domains, admins, learners and programs. Every store call that
// touches those things is scoped by the organization's ID.
type Organization struct {
	ID      string   `json:"id"`
	Slug    string   `json:"slug"`
	Name    string   `json:"name"`
	Domains []string `json:"domains"` // lower-case, without "@"
	// HRISProvider is the name of the connected HR system, "" when none. When set, an
	// upload warns that the sync will overwrite the fields the HRIS owns.
	HRISProvider string `json:"hris_provider,omitempty"`
	// LearnersVersion grows by one with every write to the organization's learners. A
	// preview records it; a commit made against another version is stale.
	LearnersVersion int64     `json:"-"`
	CreatedAt       time.Time `json:"created_at"`
}

// HasDomain reports whether domain (lower-case) is one of the organization's.
func (o *Organization) HasDomain(domain string) bool {
	for _, d := range o.Domains {
		if d == domain {
			return true
		}
	}
	return false
}

// Learner statuses: the membership state. An upload creates inactive learners unless its
// membership_active column says otherwise; it never invites anybody.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Learner is one person of an organization's directory. Email is the identity inside the
// organization and never changes through a file.
type Learner struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"-"`
	Email        string    `json:"employee_email"`
	FirstName    string    `json:"first_name"`
	LastName     string    `json:"last_name"`
	EmployeeID   string    `json:"employee_id"`
	JobTitle     string    `json:"job_title"`
	Department   string    `json:"department"`
	Location     string    `json:"location"`
	ManagerEmail string    `json:"manager_email"`
	Timezone     string    `json:"timezone"`
	Active       bool      `json:"membership_active"`
	Status       string    `json:"status"` // StatusActive or StatusInactive, derived from Active
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// The import batches that created and last changed the learner, "" when none.
	CreatedBatchID string `json:"created_batch_id,omitempty"`
	UpdatedBatchID string `json:"updated_batch_id,omitempty"`
}

// ChangeKind says what a planned change does to the directory.
type ChangeKind int

const (
	ChangeNew ChangeKind = iota + 1
	ChangeUpdated
)

// FieldChange is one field of an existing learner that an upload changes.
type FieldChange struct {
	Column string `json:"column"` // canonical column name
	Before string `json:"before"`
	After  string `json:"after"`
}

// LearnerChange is one row of a valid file that writes something: a new learner, or an
// existing one with the fields it changes. After is the complete record to store (stored
// values merged with the row's non-blank cells); for an update After.ID is the stored ID.
type LearnerChange struct {
	Row     int
	Kind    ChangeKind
	After   Learner
	Changes []FieldChange // for ChangeUpdated
}

// ImportBatch records one committed upload.
type ImportBatch struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"-"`
	CreatedBy string    `json:"created_by"` // admin email, "cli" or "api:<token name>"
	CreatedAt time.Time `json:"created_at"`
	FileName  string    `json:"file_name"`
	SHA256    string    `json:"sha256"`
	Format    string    `json:"format"`
	Rows      int       `json:"rows"`
	New       int       `json:"new"`
	Updated   int       `json:"updated"`
	Unchanged int       `json:"unchanged"`
}

// LearnerLookup is what the import pipeline needs to compare a file with the stored
// learners of one organization. Lookups take many keys at once so that a file is compared
// in batches, never with one query per row. Missing keys are simply absent from the result.
type LearnerLookup interface {
	CountLearners(ctx context.Context) (int, error)
	// ScanLearners calls fn for every learner of the organization, in no particular order,
	// with at least the fields an import compares (ID, Email, FirstName, LastName,
	// EmployeeID, JobTitle, Department, Location, ManagerEmail, Active). fn must not keep
	// l, which may be reused. The pipeline takes one snapshot of keys from it instead of
	// asking about every row.
	ScanLearners(ctx context.Context, fn func(l *Learner) error) error
	LearnersByEmail(ctx context.Context, emails []string) ([]Learner, error)
	LearnersByEmployeeID(ctx context.Context, employeeIDs []string) ([]Learner, error)
}

// ImportTx is one write transaction on an organization's learners, open while the
// pipeline streams a file through it. Write may buffer; everything becomes visible at once
// when the transaction commits, or not at all.
type ImportTx interface {
	LearnerLookup
	// BatchID is the ID the batch of this transaction will have if it is recorded.
	BatchID() string
	// Now is the one timestamp every row of this transaction gets.
	Now() time.Time
	// Write stores the changes: new learners are inserted (their IDs are assigned by the
	// store), updated ones overwritten by ID. Learners written get batch as their
	// CreatedBatchID/UpdatedBatchID and the transaction's now as their timestamps.
	Write(ctx context.Context, changes []LearnerChange) error
}

// ImportFunc runs inside an import transaction. It returns the batch to record (its ID and
// CreatedAt are filled in by the store), or an error, which rolls everything back. A nil
// batch with a nil error means there was nothing to write: the transaction is rolled back,
// no batch is recorded and the organization's LearnersVersion does not move.
type ImportFunc func(ctx context.Context, tx ImportTx) (*ImportBatch, error)

// LearnerFilter selects and orders a page of learners.
type LearnerFilter struct {
	// Query matches name or email: every word of it (split at white space) is a
	// case-insensitive substring of the first name, the last name or the email, so "ada
	// lovelace" finds Ada Lovelace (see SearchTerms).
	Query      string
	Department string
	Location   string
	Status     string // StatusActive, StatusInactive or ""
	// Batch selects the learners whose latest change came from this import batch (it
	// added them, or it is the last import that changed them).
	Batch  string
	Sort   string // "name" (default), "email", "created", "department", "location"
	Desc   bool
	Limit  int    // 1..1000, default 50
	Cursor string // opaque, a page's NextCursor or PrevCursor
}

// LearnerPage is one page of learners and the cursors of the pages after and before it
// ("" on the last page and on the first).
type LearnerPage struct {
	Learners   []Learner
	NextCursor string
	PrevCursor string
}

// Store is the persistence of the whole domain. SQLite and PostgreSQL implement it; the
// conformance suite in internal/storetest holds both to the same behaviour. Every method
// that takes an orgID reads and writes that organization's rows only, and fails with
// EINVALID when orgID is empty.
type Store interface {
	OrganizationStore
	LearnerStore
	AdminStore
	UploadStore
	JobRuns
	// Close releases the connections.
	Close() error
}

// OrganizationStore keeps organizations and their email domains.
type OrganizationStore interface {
	// CreateOrganization stores org (slug and domains unique: ECONFLICT otherwise) and
	// fills in its ID and CreatedAt.
	CreateOrganization(ctx context.Context, org *Organization) error
	OrganizationBySlug(ctx context.Context, slug string) (*Organization, error)
	OrganizationByID(ctx context.Context, id string) (*Organization, error)
	Organizations(ctx context.Context) ([]Organization, error)
	// SetDomains replaces the organization's email domains.
	SetDomains(ctx context.Context, orgID string, domains []string) error
}

// LearnerStore reads an organization's learners and writes them through imports.
type LearnerStore interface {
	Lookup(orgID string) LearnerLookup
	// Import runs fn in one write transaction. With expectVersion >= 0 the transaction
	// first checks the organization's LearnersVersion and fails with ESTALE when it moved.
	// Commits on one organization are serialised. An error from fn rolls everything back.
	Import(ctx context.Context, orgID string, expectVersion int64, fn ImportFunc) (*ImportBatch, error)
	Learner(ctx context.Context, orgID, id string) (*Learner, error)
	Learners(ctx context.Context, orgID string, f LearnerFilter) (*LearnerPage, error)
	// EachLearner streams every learner of the organization that matches f's filters, in
	// f's order (Limit and Cursor are ignored), as of one moment: an import committed
	// meanwhile changes nothing of what fn sees (an export paged through Learners could
	// miss a learner an import moved behind it, or list one twice).
	EachLearner(ctx context.Context, orgID string, f LearnerFilter, fn func(*Learner) error) error
	// LearnerFacets returns the organization's distinct departments and locations, for the
	// Learners tab's filters.
	LearnerFacets(ctx context.Context, orgID string) (*LearnerFacets, error)
	ImportBatches(ctx context.Context, orgID string, limit int) ([]ImportBatch, error)
	ImportBatch(ctx context.Context, orgID, id string) (*ImportBatch, error)
}

// LearnerFacets are the values the Learners tab offers in its department and location
// filters: distinct, non-blank, in code point order, at most MaxFacetValues of each
// (Truncated says some were left out: the filter still takes any value typed).
type LearnerFacets struct {
	Departments []string
	Locations   []string
	Truncated   bool
}

// MaxFacetValues bounds each list of LearnerFacets: a suggestion list longer than this
// helps nobody and weighs on every page.
const MaxFacetValues = 500

// Sorts are the orders a page of learners can come in.
var Sorts = []string{"name", "email", "created", "department", "location"}

// Normalize fills in a filter's defaults (sorted by name, 50 a page, at most 1,000) and
// refuses an unknown sort or status or a negative limit, so that every store reads the same filter.
func (f *LearnerFilter) Normalize() error {
	if f.Sort == "" {
		f.Sort = "name"
	}
	known := false
	for _, s := range Sorts {
		known = known || s == f.Sort
	}
	if !known {
		return Errorf(EINVALID, "unknown sort %q: use name, email, created, department or location", f.Sort)
	}
	if f.Status != "" && f.Status != StatusActive && f.Status != StatusInactive {
		return Errorf(EINVALID, "unknown status %q: use active or inactive", f.Status)
	}
	// Stored values are trimmed (and NFC: the stores compose the filters, see
	// keyset.Compose, since this package keeps to the standard library).
	f.Department = strings.TrimSpace(f.Department)
	f.Location = strings.TrimSpace(f.Location)
	switch {
	case f.Limit < 0:
		return Errorf(EINVALID, "limit must be between 1 and 1000")
	case f.Limit == 0:
		f.Limit = 50
	case f.Limit > 1000:
		f.Limit = 1000
	}
	return nil
}

// SearchTerms are the words of the Query as the stores match them: lower-case, split at
// white space (and at the unit separator that joins the fields of a learner's search key,
// so that no term spans two fields). Each must be a substring of the key.
func (f *LearnerFilter) SearchTerms() []string {
	q := strings.ToLower(f.Query)
	return strings.FieldsFunc(q, func(r rune) bool { return r == '\x1f' || unicode.IsSpace(r) })
}
