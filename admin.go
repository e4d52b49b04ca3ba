package roster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"iter"
	"time"
)

// Admin is a person who manages one organization through the web app or the API.
type Admin struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"-"`
	Email        string    `json:"email"` // unique across the service: it signs in
	Name         string    `json:"name"`
	PasswordHash string    `json:"-"` // argon2id, PHC string format
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a signed-in admin's server-side session. Only a hash of the cookie value is
// stored, so a copy of the database does not sign anybody in.
type Session struct {
	TokenHash string
	AdminID   string
	OrgID     string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// APIToken authorises scripts for one organization. The secret is shown once; the store
// keeps its SHA-256 only.
type APIToken struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"-"`
	Name       string     `json:"name"`
	Hash       string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// AdminStore keeps admins, their sessions and the organizations' API tokens.
type AdminStore interface {
	CreateAdmin(ctx context.Context, a *Admin) error // ECONFLICT when the email is taken
	AdminByEmail(ctx context.Context, email string) (*Admin, error)
	Admin(ctx context.Context, orgID, id string) (*Admin, error)
	Admins(ctx context.Context, orgID string) ([]Admin, error)
	CountAdmins(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	SessionByHash(ctx context.Context, tokenHash string) (*Session, error) // ENOTFOUND when expired
	DeleteSession(ctx context.Context, tokenHash string) error

	CreateToken(ctx context.Context, t *APIToken) error
	TokenByHash(ctx context.Context, hash string) (*APIToken, error) // ENOTFOUND when revoked
	Tokens(ctx context.Context, orgID string) ([]APIToken, error)
	RevokeToken(ctx context.Context, orgID, id string) error

	// Failed sign-ins are counted in the store, so that every instance sees the same
	// count: behind a load balancer an in-process count would give a guesser one budget
	// per instance. key is what is limited ("email:…", "ip:…"); stores keep only its
	// SHA-256 (SignInKeyHash), not the email or the address.
	//
	// AddSignInFailure records a failure of key at `at` and forgets every failure (of any
	// key) from before forgetBefore.
	AddSignInFailure(ctx context.Context, key string, at, forgetBefore time.Time) error
	// SignInFailures counts key's failures since `since`, and returns the oldest of them.
	SignInFailures(ctx context.Context, key string, since time.Time) (n int, oldest time.Time, err error)
	// ClearSignInFailures forgets key's failures (a successful sign-in).
	ClearSignInFailures(ctx context.Context, key string) error
}

// SignInKeyHash is how stores keep a sign-in limiter's key: hex SHA-256.
func SignInKeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Upload statuses.
const (
	UploadValidated = "validated" // read and checked; report stored
	UploadCommitted = "committed"
)

// Upload is a file an admin sent, kept in the store (so every instance sees it) until it is
// committed or abandoned.
type Upload struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"-"`
	CreatedBy   string    `json:"created_by"`
	FileName    string    `json:"file_name"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Status      string    `json:"status"`
	Report      []byte    `json:"-"` // the ImportReport as JSON
	BaseVersion int64     `json:"-"` // the organization's LearnersVersion the report saw
	BatchID     string    `json:"batch_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// UploadStore keeps uploads awaiting commit, their file and their full error list.
type UploadStore interface {
	// CreateUpload stores u and the file read from r (in chunks, never whole in memory),
	// filling in u.ID, u.Size and u.CreatedAt.
	CreateUpload(ctx context.Context, u *Upload, r io.Reader) error
	Upload(ctx context.Context, orgID, id string) (*Upload, error)
	OpenUploadFile(ctx context.Context, orgID, id string) (io.ReadCloser, error)
	// SaveUploadResult replaces the upload's report, base version and full error list;
	// ECONFLICT when the upload is committed, whose report is final.
	// errs yields the errors in any order (nil: none); the store pulls them one at a time,
	// so a caller can stream millions of them from disk without holding them in memory.
	SaveUploadResult(ctx context.Context, orgID, id string, report []byte, baseVersion int64, errs iter.Seq[RowError]) error
	// UploadErrors returns errors offset to offset+limit (limit <= 0: all) of the upload's
	// list sorted by row, then the columns table (ColumnIndex), then code, then value
	// (RowError.Less). A page costs the same however deep it is.
	UploadErrors(ctx context.Context, orgID, id string, offset, limit int) ([]RowError, error)
	MarkUploadCommitted(ctx context.Context, orgID, id, batchID string, report []byte) error
	// DeleteUploadsBefore removes uncommitted uploads (all organizations) last touched
	// before t, with their files and errors; it returns how many it removed.
	DeleteUploadsBefore(ctx context.Context, t time.Time) (int, error)
}

// NewStatus returns the status a new upload is stored with: u.Status, or
// UploadValidated when blank; any other status is EINVALID.
func (u *Upload) NewStatus() (string, error) {
	switch u.Status {
	case "":
		return UploadValidated, nil
	case UploadValidated, UploadCommitted:
		return u.Status, nil
	}
	return "", Errorf(EINVALID, "unknown upload status %q", u.Status)
}
