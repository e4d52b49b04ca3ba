package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/roster-dev/roster"
)

// Admin emails are stored lower-cased and looked up lower-cased: signing in must not
// depend on how the admin typed the address.
func cleanEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// CreateAdmin stores a and fills in its ID and CreatedAt; ECONFLICT when the email is taken.
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
	_, err := db.w.ExecContext(ctx, `INSERT INTO admins (id, org_id, email, name, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, id, a.OrgID, email, a.Name, a.PasswordHash, ts(now))
	if err != nil {
		return dbError(err, "admin")
	}
	a.ID, a.Email, a.CreatedAt = id, email, now
	return nil
}

const adminColumns = `id, org_id, email, name, password_hash, created_at`

func scanAdmin(s scanner) (*roster.Admin, error) {
	var a roster.Admin
	var at int64
	if err := s.Scan(&a.ID, &a.OrgID, &a.Email, &a.Name, &a.PasswordHash, &at); err != nil {
		return nil, err
	}
	a.CreatedAt = fromTS(at)
	return &a, nil
}

// AdminByEmail returns the admin who signs in with email (any case), or ENOTFOUND.
func (db *DB) AdminByEmail(ctx context.Context, email string) (*roster.Admin, error) {
	a, err := scanAdmin(db.r.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = ?`, cleanEmail(email)))
	return a, dbError(err, "admin")
}

// Admin returns one admin of the organization, or ENOTFOUND.
func (db *DB) Admin(ctx context.Context, orgID, id string) (*roster.Admin, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	a, err := scanAdmin(db.r.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = ? AND org_id = ?`, id, orgID))
	return a, dbError(err, "admin")
}

// Admins returns the organization's admins ordered by email.
func (db *DB) Admins(ctx context.Context, orgID string) ([]roster.Admin, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE org_id = ? ORDER BY email`, orgID)
	if err != nil {
		return nil, dbError(err, "admins")
	}
	defer rows.Close()
	out := []roster.Admin{}
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, dbError(err, "admins")
		}
		out = append(out, *a)
	}
	return out, dbError(rows.Err(), "admins")
}

// CountAdmins counts the admins of every organization (zero means a fresh install).
func (db *DB) CountAdmins(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM admins`).Scan(&n)
	return n, dbError(err, "admins")
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
	return db.inWriteTx(ctx, func(tx *sql.Tx) error {
		// The admin must belong to the session's organization.
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM admins WHERE id = ? AND org_id = ?`, s.AdminID, s.OrgID).Scan(&one); err != nil {
			return dbError(err, "admin")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, ts(now)); err != nil {
			return dbError(err, "sessions")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, admin_id, org_id, csrf_token, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, s.TokenHash, s.AdminID, s.OrgID, s.CSRFToken, ts(s.CreatedAt), ts(s.ExpiresAt))
		return dbError(err, "session")
	})
}

// SessionByHash returns the session, or ENOTFOUND when there is none or it has expired.
func (db *DB) SessionByHash(ctx context.Context, tokenHash string) (*roster.Session, error) {
	var s roster.Session
	var cat, eat int64
	err := db.r.QueryRowContext(ctx, `SELECT token_hash, admin_id, org_id, csrf_token, created_at, expires_at
		FROM sessions WHERE token_hash = ? AND expires_at > ?`, tokenHash, ts(db.clock())).
		Scan(&s.TokenHash, &s.AdminID, &s.OrgID, &s.CSRFToken, &cat, &eat)
	if err != nil {
		return nil, dbError(err, "session")
	}
	s.CreatedAt, s.ExpiresAt = fromTS(cat), fromTS(eat)
	return &s, nil
}

// DeleteSession removes the session; removing one that is gone is not an error (signing
// out twice is fine).
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return dbError(err, "session")
}

// CreateToken stores t and fills in its ID and CreatedAt.
func (db *DB) CreateToken(ctx context.Context, t *roster.APIToken) error {
	if t == nil || t.Hash == "" {
		return roster.Errorf(roster.EINVALID, "a token needs its hash")
	}
	if err := needOrg(t.OrgID); err != nil {
		return err
	}
	id, now := newID("tok_"), db.clock()
	_, err := db.w.ExecContext(ctx, `INSERT INTO api_tokens (id, org_id, name, hash, created_at, last_used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, NULL, NULL)`, id, t.OrgID, t.Name, t.Hash, ts(now))
	if err != nil {
		return dbError(err, "token")
	}
	t.ID, t.CreatedAt, t.LastUsedAt, t.RevokedAt = id, now, nil, nil
	return nil
}

const tokenColumns = `id, org_id, name, hash, created_at, last_used_at, revoked_at`

func scanToken(s scanner) (*roster.APIToken, error) {
	var t roster.APIToken
	var at int64
	var used, revoked sql.NullInt64
	if err := s.Scan(&t.ID, &t.OrgID, &t.Name, &t.Hash, &at, &used, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromTS(at), fromNullTS(used), fromNullTS(revoked)
	return &t, nil
}

// lastUsedEvery is how stale LastUsedAt may get: recording every API call would make each
// one a write, and SQLite has a single writer.
const lastUsedEvery = time.Minute

// TokenByHash returns the token, or ENOTFOUND when there is none or it is revoked. It
// records the use in LastUsedAt, at most once a minute and only if the write connection is
// free within a moment: an API call must not wait behind a million-row import to note it.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*roster.APIToken, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ? AND revoked_at IS NULL`, hash))
	if err != nil {
		return nil, dbError(err, "token")
	}
	now := db.clock()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= lastUsedEvery {
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := db.w.ExecContext(wctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, ts(now), t.ID); err == nil {
			t.LastUsedAt = &now
		}
	}
	return t, nil
}

// Tokens returns the organization's tokens, revoked ones included, oldest first.
func (db *DB) Tokens(ctx context.Context, orgID string) ([]roster.APIToken, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE org_id = ? ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, dbError(err, "tokens")
	}
	defer rows.Close()
	out := []roster.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbError(err, "tokens")
		}
		out = append(out, *t)
	}
	return out, dbError(rows.Err(), "tokens")
}

// RevokeToken revokes one token of the organization (ENOTFOUND for another's). Revoking
// a revoked token keeps its first revocation time.
func (db *DB) RevokeToken(ctx context.Context, orgID, id string) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	res, err := db.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND org_id = ?`,
		ts(db.clock()), id, orgID)
	if err != nil {
		return dbError(err, "token")
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError(err, "token")
	} else if n == 0 {
		return roster.Errorf(roster.ENOTFOUND, "token not found")
	}
	return nil
}

// AddSignInFailure records a failed sign-in of key; see roster.AdminStore.
func (db *DB) AddSignInFailure(ctx context.Context, key string, at, forgetBefore time.Time) error {
	return db.inWriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE at < ?`, ts(forgetBefore)); err != nil {
			return dbError(err, "sign-in failures")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sign_in_failures (key_hash, at) VALUES (?, ?)`, roster.SignInKeyHash(key), ts(at))
		return dbError(err, "sign-in failure")
	})
}

// SignInFailures counts key's failures since `since`; see roster.AdminStore.
func (db *DB) SignInFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT count(*), min(at) FROM sign_in_failures WHERE key_hash = ? AND at >= ?`,
		roster.SignInKeyHash(key), ts(since)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, dbError(err, "sign-in failures")
	}
	if !oldest.Valid {
		return 0, time.Time{}, nil
	}
	return n, fromTS(oldest.Int64), nil
}

// ClearSignInFailures forgets key's failures; see roster.AdminStore.
func (db *DB) ClearSignInFailures(ctx context.Context, key string) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE key_hash = ?`, roster.SignInKeyHash(key))
	return dbError(err, "sign-in failures")
}
