package storetest

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

func testAdmins(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	ann := &roster.Admin{OrgID: a.ID, Email: "ann@acme.com", Name: "Ann", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"}
	must(t, e.s.CreateAdmin(e.ctx, ann), "CreateAdmin")
	if ann.ID == "" {
		t.Fatal("CreateAdmin did not fill in the ID")
	}
	sameTime(t, "admin CreatedAt", ann.CreatedAt, e.clock.Now())
	bob := &roster.Admin{OrgID: a.ID, Email: "bob@acme.com", Name: "Bob", PasswordHash: "h"}
	must(t, e.s.CreateAdmin(e.ctx, bob), "CreateAdmin bob")
	gil := &roster.Admin{OrgID: b.ID, Email: "gil@globex.com", Name: "Gil", PasswordHash: "h"}
	must(t, e.s.CreateAdmin(e.ctx, gil), "CreateAdmin gil")

	// An email signs in to one admin, across organizations.
	wantCode(t, e.s.CreateAdmin(e.ctx, &roster.Admin{OrgID: b.ID, Email: "ann@acme.com", Name: "Ann 2", PasswordHash: "h"}), roster.ECONFLICT, "admin email taken in another organization")
	wantCode(t, e.s.CreateAdmin(e.ctx, &roster.Admin{OrgID: a.ID, Email: "ANN@acme.com", Name: "Ann 3", PasswordHash: "h"}), roster.ECONFLICT, "admin email taken, other case")
	if err := e.s.CreateAdmin(e.ctx, &roster.Admin{OrgID: "org_00000000000000000000000000", Email: "x@x.com", Name: "X", PasswordHash: "h"}); err == nil {
		t.Fatal("CreateAdmin in an unknown organization succeeded")
	}
	if n, err := e.s.CountAdmins(e.ctx); err != nil || n != 3 {
		t.Fatalf("CountAdmins = %d, %v; want 3", n, err)
	}

	for _, email := range []string{"ann@acme.com", "Ann@ACME.com"} {
		got, err := e.s.AdminByEmail(e.ctx, email)
		must(t, err, "AdminByEmail "+email)
		if got.ID != ann.ID || got.OrgID != a.ID || got.Name != "Ann" || got.PasswordHash != ann.PasswordHash || got.Email != "ann@acme.com" {
			t.Fatalf("AdminByEmail(%s) = %+v", email, got)
		}
		sameTime(t, "AdminByEmail CreatedAt", got.CreatedAt, ann.CreatedAt)
	}
	_, err := e.s.AdminByEmail(e.ctx, "nobody@acme.com")
	wantCode(t, err, roster.ENOTFOUND, "AdminByEmail(unknown)")

	got, err := e.s.Admin(e.ctx, a.ID, bob.ID)
	must(t, err, "Admin")
	if got.Email != "bob@acme.com" || got.OrgID != a.ID {
		t.Fatalf("Admin = %+v", got)
	}
	_, err = e.s.Admin(e.ctx, b.ID, bob.ID)
	wantCode(t, err, roster.ENOTFOUND, "Admin of another organization")
	_, err = e.s.Admin(e.ctx, a.ID, "garbage")
	wantCode(t, err, roster.ENOTFOUND, "Admin(garbage)")

	list, err := e.s.Admins(e.ctx, a.ID)
	must(t, err, "Admins")
	if len(list) != 2 {
		t.Fatalf("Admins(acme) = %v, want Ann and Bob", list)
	}
	for _, ad := range list {
		if ad.OrgID != a.ID || (ad.ID != ann.ID && ad.ID != bob.ID) {
			t.Fatalf("Admins(acme) has %+v", ad)
		}
	}
}

func testSessions(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	ann := &roster.Admin{OrgID: a.ID, Email: "ann@acme.com", Name: "Ann", PasswordHash: "h"}
	must(t, e.s.CreateAdmin(e.ctx, ann), "CreateAdmin")
	now := e.clock.Now()
	s := &roster.Session{TokenHash: "hash-1", AdminID: ann.ID, OrgID: a.ID, CSRFToken: "csrf-1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, e.s.CreateSession(e.ctx, s), "CreateSession")
	got, err := e.s.SessionByHash(e.ctx, "hash-1")
	must(t, err, "SessionByHash")
	if got.TokenHash != "hash-1" || got.AdminID != ann.ID || got.OrgID != a.ID || got.CSRFToken != "csrf-1" {
		t.Fatalf("SessionByHash = %+v", got)
	}
	sameTime(t, "session CreatedAt", got.CreatedAt, now)
	sameTime(t, "session ExpiresAt", got.ExpiresAt, now.Add(time.Hour))
	_, err = e.s.SessionByHash(e.ctx, "hash-2")
	wantCode(t, err, roster.ENOTFOUND, "SessionByHash(unknown)")
	wantCode(t, e.s.CreateSession(e.ctx, &roster.Session{TokenHash: "hash-1", AdminID: ann.ID, OrgID: a.ID, CSRFToken: "c", ExpiresAt: now.Add(time.Hour)}), roster.ECONFLICT, "same session hash")

	// A session ties an admin to the admin's own organization.
	if err := e.s.CreateSession(e.ctx, &roster.Session{TokenHash: "hash-x", AdminID: ann.ID, OrgID: b.ID, CSRFToken: "c", ExpiresAt: now.Add(time.Hour)}); err == nil {
		t.Fatal("CreateSession for an admin of another organization succeeded")
	}
	if _, err := e.s.SessionByHash(e.ctx, "hash-x"); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("the refused session exists: %v", err)
	}

	// Expiry: valid until ExpiresAt, not found from then on.
	e.clock.Advance(59 * time.Minute)
	_, err = e.s.SessionByHash(e.ctx, "hash-1")
	must(t, err, "SessionByHash before expiry")
	e.clock.Advance(time.Minute)
	_, err = e.s.SessionByHash(e.ctx, "hash-1")
	wantCode(t, err, roster.ENOTFOUND, "SessionByHash at expiry")

	s2 := &roster.Session{TokenHash: "hash-3", AdminID: ann.ID, OrgID: a.ID, CSRFToken: "csrf-3", ExpiresAt: e.clock.Now().Add(time.Hour)}
	must(t, e.s.CreateSession(e.ctx, s2), "CreateSession")
	must(t, e.s.DeleteSession(e.ctx, "hash-3"), "DeleteSession")
	_, err = e.s.SessionByHash(e.ctx, "hash-3")
	wantCode(t, err, roster.ENOTFOUND, "SessionByHash after DeleteSession")
	must(t, e.s.DeleteSession(e.ctx, "hash-3"), "DeleteSession twice")
}

func testTokens(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	tok := &roster.APIToken{OrgID: a.ID, Name: "payroll sync", Hash: "sha-1"}
	must(t, e.s.CreateToken(e.ctx, tok), "CreateToken")
	if tok.ID == "" {
		t.Fatal("CreateToken did not fill in the ID")
	}
	sameTime(t, "token CreatedAt", tok.CreatedAt, e.clock.Now())
	other := &roster.APIToken{OrgID: b.ID, Name: "globex", Hash: "sha-2"}
	must(t, e.s.CreateToken(e.ctx, other), "CreateToken globex")
	wantCode(t, e.s.CreateToken(e.ctx, &roster.APIToken{OrgID: b.ID, Name: "copy", Hash: "sha-1"}), roster.ECONFLICT, "same token hash")

	got, err := e.s.TokenByHash(e.ctx, "sha-1")
	must(t, err, "TokenByHash")
	if got.ID != tok.ID || got.OrgID != a.ID || got.Name != "payroll sync" || got.RevokedAt != nil {
		t.Fatalf("TokenByHash = %+v", got)
	}
	_, err = e.s.TokenByHash(e.ctx, "sha-404")
	wantCode(t, err, roster.ENOTFOUND, "TokenByHash(unknown)")

	list, err := e.s.Tokens(e.ctx, a.ID)
	must(t, err, "Tokens")
	if len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("Tokens(acme) = %+v", list)
	}

	// Another organization cannot revoke it.
	wantCode(t, e.s.RevokeToken(e.ctx, b.ID, tok.ID), roster.ENOTFOUND, "RevokeToken from another organization")
	_, err = e.s.TokenByHash(e.ctx, "sha-1")
	must(t, err, "TokenByHash after a refused revocation")

	revokedAt := e.clock.Advance(time.Hour)
	must(t, e.s.RevokeToken(e.ctx, a.ID, tok.ID), "RevokeToken")
	_, err = e.s.TokenByHash(e.ctx, "sha-1")
	wantCode(t, err, roster.ENOTFOUND, "TokenByHash of a revoked token")
	list, err = e.s.Tokens(e.ctx, a.ID)
	must(t, err, "Tokens")
	if len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("Tokens after revocation = %+v, want the token with RevokedAt", list)
	}
	sameTime(t, "RevokedAt", *list[0].RevokedAt, revokedAt)
	wantCode(t, e.s.RevokeToken(e.ctx, a.ID, "tok_00000000000000000000000000"), roster.ENOTFOUND, "RevokeToken(unknown)")
	_, err = e.s.TokenByHash(e.ctx, "sha-2")
	must(t, err, "the other organization's token")
}

// testIsolation: with every kind of record of organization A at hand, organization B
// can neither see nor change any of it.
func testIsolation(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	batch := e.importNew(t, a.ID, person("acme", 1), person("acme", 2))
	e.importNew(t, b.ID, person("globex", 1))
	la := e.byEmail(t, a.ID, "person0001@acme.com")
	adm := &roster.Admin{OrgID: a.ID, Email: "ann@acme.com", Name: "Ann", PasswordHash: "h"}
	must(t, e.s.CreateAdmin(e.ctx, adm), "CreateAdmin")
	tok := &roster.APIToken{OrgID: a.ID, Name: "t", Hash: "sha-a"}
	must(t, e.s.CreateToken(e.ctx, tok), "CreateToken")
	up := &roster.Upload{OrgID: a.ID, CreatedBy: "ann@acme.com", FileName: "a.csv", Status: roster.UploadValidated, Report: []byte(`{"a":1}`)}
	must(t, e.s.CreateUpload(e.ctx, up, bytes.NewReader([]byte("employee_email\nx@acme.com\n"))), "CreateUpload")
	must(t, e.s.SaveUploadResult(e.ctx, a.ID, up.ID, []byte(`{"a":2}`), 1, slices.Values([]roster.RowError{{Row: 2, Column: "employee_email", Code: roster.CodeInvalidEmail, Value: "x", Message: "m"}})), "SaveUploadResult")

	ctx, s := e.ctx, e.s
	_, err := s.Learner(ctx, b.ID, la.ID)
	wantCode(t, err, roster.ENOTFOUND, "Learner of A through B")
	page, err := s.Learners(ctx, b.ID, roster.LearnerFilter{Query: "acme"})
	must(t, err, "Learners(B)")
	if len(page.Learners) != 0 {
		t.Fatalf("B lists A's learners: %v", page.Learners)
	}
	if ls, _ := s.Lookup(b.ID).LearnersByEmail(ctx, []string{la.Email}); len(ls) != 0 {
		t.Fatalf("B's lookup finds A's learner")
	}
	if ls, _ := s.Lookup(b.ID).LearnersByEmployeeID(ctx, []string{"E0002"}); len(ls) != 0 {
		t.Fatalf("B's lookup by employee ID finds A's learner")
	}
	_, err = s.ImportBatch(ctx, b.ID, batch.ID)
	wantCode(t, err, roster.ENOTFOUND, "ImportBatch of A through B")
	if bs := e.batches(t, b.ID); len(bs) != 1 {
		t.Fatalf("B has %d batches, want its own 1", len(bs))
	}
	_, err = s.Admin(ctx, b.ID, adm.ID)
	wantCode(t, err, roster.ENOTFOUND, "Admin of A through B")
	if as, _ := s.Admins(ctx, b.ID); len(as) != 0 {
		t.Fatalf("Admins(B) = %v", as)
	}
	if ts, _ := s.Tokens(ctx, b.ID); len(ts) != 0 {
		t.Fatalf("Tokens(B) = %v", ts)
	}
	wantCode(t, s.RevokeToken(ctx, b.ID, tok.ID), roster.ENOTFOUND, "RevokeToken of A through B")
	_, err = s.Upload(ctx, b.ID, up.ID)
	wantCode(t, err, roster.ENOTFOUND, "Upload of A through B")
	_, err = s.OpenUploadFile(ctx, b.ID, up.ID)
	wantCode(t, err, roster.ENOTFOUND, "OpenUploadFile of A through B")
	_, err = s.UploadErrors(ctx, b.ID, up.ID, 0, 10)
	wantCode(t, err, roster.ENOTFOUND, "UploadErrors of A through B")
	wantCode(t, s.SaveUploadResult(ctx, b.ID, up.ID, []byte(`{"b":1}`), 9, nil), roster.ENOTFOUND, "SaveUploadResult of A through B")
	wantCode(t, s.MarkUploadCommitted(ctx, b.ID, up.ID, batch.ID, []byte(`{"b":2}`)), roster.ENOTFOUND, "MarkUploadCommitted of A through B")

	// And all of A's is intact.
	sameLearner(t, "A's learner", e.byEmail(t, a.ID, la.Email), la)
	if _, err := s.TokenByHash(ctx, "sha-a"); err != nil {
		t.Fatalf("A's token: %v", err)
	}
	u, err := s.Upload(ctx, a.ID, up.ID)
	must(t, err, "A's upload")
	if string(u.Report) != `{"a":2}` || u.BaseVersion != 1 || u.Status != roster.UploadValidated {
		t.Fatalf("A's upload changed: %+v", u)
	}
	errs, err := s.UploadErrors(ctx, a.ID, up.ID, 0, 10)
	if err != nil || len(errs) != 1 {
		t.Fatalf("A's upload errors: %v, %v", errs, err)
	}
	f, err := s.OpenUploadFile(ctx, a.ID, up.ID)
	must(t, err, "OpenUploadFile")
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(data) != "employee_email\nx@acme.com\n" {
		t.Fatalf("A's file: %q, %v", data, err)
	}
	if v := e.version(t, a.ID); v != 1 {
		t.Fatalf("A's version %d, want 1", v)
	}
}

// testSignInFailures: counts per key within a window, the oldest failure, forgetting old
// ones as new ones come, clearing one key without touching another.
func testSignInFailures(t *testing.T, e *env) {
	t0 := e.clock.Now()
	count := func(key string, since time.Time) (int, time.Time) {
		t.Helper()
		n, oldest, err := e.s.SignInFailures(e.ctx, key, since)
		must(t, err, "SignInFailures")
		return n, oldest
	}
	if n, oldest := count("email:ann@acme.com", t0.Add(-time.Hour)); n != 0 || !oldest.IsZero() {
		t.Fatalf("no failures yet: %d, %v", n, oldest)
	}
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Minute)
		must(t, e.s.AddSignInFailure(e.ctx, "email:ann@acme.com", at, t0.Add(-time.Hour)), "AddSignInFailure")
		must(t, e.s.AddSignInFailure(e.ctx, "ip:192.0.2.1", at, t0.Add(-time.Hour)), "AddSignInFailure")
	}
	n, oldest := count("email:ann@acme.com", t0.Add(-time.Hour))
	if n != 3 {
		t.Fatalf("3 failures recorded, %d counted", n)
	}
	sameTime(t, "oldest failure", oldest, t0)
	// Only those since `since` count, and the oldest is the oldest of those.
	n, oldest = count("email:ann@acme.com", t0.Add(30*time.Second))
	if n != 2 {
		t.Fatalf("2 failures since t0+30s, %d counted", n)
	}
	sameTime(t, "oldest failure since t0+30s", oldest, t0.Add(time.Minute))
	if n, _ := count("email:bob@acme.com", t0.Add(-time.Hour)); n != 0 {
		t.Fatalf("another key has %d failures", n)
	}
	// Clearing one key leaves the other.
	must(t, e.s.ClearSignInFailures(e.ctx, "email:ann@acme.com"), "ClearSignInFailures")
	if n, _ := count("email:ann@acme.com", t0.Add(-time.Hour)); n != 0 {
		t.Fatalf("cleared key has %d failures", n)
	}
	if n, _ := count("ip:192.0.2.1", t0.Add(-time.Hour)); n != 3 {
		t.Fatalf("the other key has %d failures after a clear, want 3", n)
	}
	// A failure an hour later forgets everything before its forgetBefore, whatever the key.
	later := t0.Add(time.Hour)
	must(t, e.s.AddSignInFailure(e.ctx, "email:cy@acme.com", later, later.Add(-15*time.Minute)), "AddSignInFailure")
	if n, _ := count("ip:192.0.2.1", t0.Add(-24*time.Hour)); n != 0 {
		t.Fatalf("old failures of another key not forgotten: %d left", n)
	}
	if n, _ := count("email:cy@acme.com", t0.Add(-24*time.Hour)); n != 1 {
		t.Fatalf("the new failure: %d", n)
	}
}
