package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
)

// Admin emails are stored lower-cased and looked up lower-cased: signing in must not
// depend on how the admin typed the address.
func cleanEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

const adminColumns = `id, org_id, email, name, password_hash, created_at`

func scanAdmin(row pgx.Row) (*roster.Admin, error) {
	var a roster.Admin
	if err := row.Scan(&a.ID, &a.OrgID, &a.Email, &a.Name, &a.PasswordHash, &a.CreatedAt); err != nil {
		return nil, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

// CreateAdmin stores a, filling in its ID and CreatedAt; ECONFLICT when the email is taken.
func (db *DB) CreateAdmin(ctx context.Context, a *roster.Admin) error {
	if a == nil {
		return roster.Errorf(roster.EINVALID, "no admin given")
	}
	if err := needOrg(a.OrgID); err != nil {
		return err
	}
	email := cleanEmail(a.Email)
	if email == "" || !strings.Contains(email, "@") {
		return roster.Errorf(roster.EINVALID, "an admin needs an email address")
	}
	id, now := newID("adm_"), db.clock()
	_, err := db.pool.Exec(ctx, `INSERT INTO admins (`+adminColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, a.OrgID, email, a.Name, a.PasswordHash, now)
	if err != nil {
		return dbErr(err, "admin")
	}
	a.ID, a.Email, a.CreatedAt = id, email, now
	return nil
}

// AdminByEmail returns the admin who signs in with email (any case).
func (db *DB) AdminByEmail(ctx context.Context, email string) (*roster.Admin, error) {
	a, err := scanAdmin(db.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = $1`,
		cleanEmail(email)))
	return a, dbErr(err, "admin")
}

// Admin returns one admin of the organization.
func (db *DB) Admin(ctx context.Context, orgID, id string) (*roster.Admin, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	a, err := scanAdmin(db.pool.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins WHERE org_id = $1 AND id = $2`, orgID, id))
	return a, dbErr(err, "admin")
}

// Admins returns the organization's admins ordered by email.
func (db *DB) Admins(ctx context.Context, orgID string) ([]roster.Admin, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+adminColumns+` FROM admins WHERE org_id = $1 ORDER BY email`, orgID)
	if err != nil {
		return nil, dbErr(err, "admins")
	}
	defer rows.Close()
	out := []roster.Admin{}
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, dbErr(err, "admins")
		}
		out = append(out, *a)
	}
	return out, dbErr(rows.Err(), "admins")
}

// CountAdmins counts the admins of every organization (zero means a fresh install).
func (db *DB) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM admins`).Scan(&n)
	return n, dbErr(err, "admins")
}

// CreateSession stores s (CreatedAt filled in when zero) and drops expired sessions, which
// nothing else would ever remove.
func (db *DB) CreateSession(ctx context.Context, s *roster.Session) error {
	if s == nil || s.TokenHash == "" || s.AdminID == "" || s.ExpiresAt.IsZero() {
		return roster.Errorf(roster.EINVALID, "a session needs a token hash, an admin and an expiry")
	}
	if err := needOrg(s.OrgID); err != nil {
		return err
	}
	now := db.clock()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.CreatedAt = s.CreatedAt.UTC().Truncate(time.Microsecond)
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Microsecond)
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// The admin must belong to the session's organization: a session never crosses them.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM admins WHERE id = $1 AND org_id = $2`, s.AdminID, s.OrgID).Scan(&one); err != nil {
			return dbErr(err, "admin")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now); err != nil {
			return dbErr(err, "sessions")
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (token_hash, admin_id, org_id, csrf_token, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, s.TokenHash, s.AdminID, s.OrgID, s.CSRFToken, s.CreatedAt, s.ExpiresAt)
		return dbErr(err, "session")
	})
}

// SessionByHash returns the session, ENOTFOUND when it is unknown or expired.
func (db *DB) SessionByHash(ctx context.Context, tokenHash string) (*roster.Session, error) {
	var s roster.Session
	err := db.pool.QueryRow(ctx, `SELECT token_hash, admin_id, org_id, csrf_token, created_at, expires_at
		FROM sessions WHERE token_hash = $1 AND expires_at > $2`, tokenHash, db.clock()).
		Scan(&s.TokenHash, &s.AdminID, &s.OrgID, &s.CSRFToken, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return nil, dbErr(err, "session")
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	return &s, nil
}

// DeleteSession removes the session (signing out); an unknown one is not an error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return dbErr(err, "session")
}

const tokenColumns = `id, org_id, name, hash, created_at, last_used_at, revoked_at`

func scanToken(row pgx.Row) (*roster.APIToken, error) {
	var t roster.APIToken
	if err := row.Scan(&t.ID, &t.OrgID, &t.Name, &t.Hash, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	for _, p := range []**time.Time{&t.LastUsedAt, &t.RevokedAt} {
		if *p != nil {
			u := (*p).UTC()
			*p = &u
		}
	}
	return &t, nil
}

// CreateToken stores t, filling in its ID and CreatedAt.
func (db *DB) CreateToken(ctx context.Context, t *roster.APIToken) error {
	if t == nil || t.Hash == "" {
		return roster.Errorf(roster.EINVALID, "a token needs its hash")
	}
	if err := needOrg(t.OrgID); err != nil {
		return err
	}
	id, now := newID("tok_"), db.clock()
	_, err := db.pool.Exec(ctx, `INSERT INTO api_tokens (id, org_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, t.OrgID, t.Name, t.Hash, now)
	if err != nil {
		return dbErr(err, "token")
	}
	t.ID, t.CreatedAt, t.LastUsedAt, t.RevokedAt = id, now, nil, nil
	return nil
}

// lastUsedEvery is how stale LastUsedAt may get: recording every API call would make each
// one a write.
const lastUsedEvery = time.Minute

// TokenByHash returns the token, or ENOTFOUND when there is none or it is revoked. It
// records the use in LastUsedAt, at most once a minute.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*roster.APIToken, error) {
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if err != nil {
		return nil, dbErr(err, "token")
	}
	now := db.clock()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= lastUsedEvery {
		if _, err := db.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, now, t.ID); err != nil {
			return nil, dbErr(err, "token")
		}
		t.LastUsedAt = &now
	}
	return t, nil
}

// Tokens returns the organization's tokens, revoked ones included, oldest first.
func (db *DB) Tokens(ctx context.Context, orgID string) ([]roster.APIToken, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, dbErr(err, "tokens")
	}
	defer rows.Close()
	out := []roster.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr(err, "tokens")
		}
		out = append(out, *t)
	}
	return out, dbErr(rows.Err(), "tokens")
}

// RevokeToken revokes one of the organization's tokens; revoking twice keeps the first time.
func (db *DB) RevokeToken(ctx context.Context, orgID, id string) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	tag, err := db.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE org_id = $1 AND id = $2`,
		orgID, id, db.clock())
	if err != nil {
		return dbErr(err, "token")
	}
	if tag.RowsAffected() == 0 {
		return roster.Errorf(roster.ENOTFOUND, "token not found")
	}
	return nil
}

// AddSignInFailure records a failed sign-in of key; see roster.AdminStore.
func (db *DB) AddSignInFailure(ctx context.Context, key string, at, forgetBefore time.Time) error {
	// One statement: the old rows go and the new one comes together.
	_, err := db.pool.Exec(ctx, `WITH gone AS (DELETE FROM sign_in_failures WHERE at < $3)
		INSERT INTO sign_in_failures (key_hash, at) VALUES ($1, $2)`,
		roster.SignInKeyHash(key), at.UTC(), forgetBefore.UTC())
	return dbErr(err, "sign-in failure")
}

// SignInFailures counts key's failures since `since`; see roster.AdminStore.
func (db *DB) SignInFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error) {
	var n int
	var oldest *time.Time
	err := db.pool.QueryRow(ctx, `SELECT count(*), min(at) FROM sign_in_failures WHERE key_hash = $1 AND at >= $2`,
		roster.SignInKeyHash(key), since.UTC()).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, dbErr(err, "sign-in failures")
	}
	if oldest == nil {
		return 0, time.Time{}, nil
	}
	return n, oldest.UTC(), nil
}

// ClearSignInFailures forgets key's failures; see roster.AdminStore.
func (db *DB) ClearSignInFailures(ctx context.Context, key string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sign_in_failures WHERE key_hash = $1`, roster.SignInKeyHash(key))
	return dbErr(err, "sign-in failures")
}
