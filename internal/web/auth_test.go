package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
)

func TestSetupFirstStart(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if r := b.get("/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/setup" {
		t.Fatalf("GET / on an empty store: %d %q, want 303 to /setup", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.get("/signin"); r.Header.Get("Location") != "/setup" {
		t.Fatalf("GET /signin on an empty store should go to /setup, got %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	tok := b.csrf("/setup")
	form := url.Values{"csrf": {tok}, "org_name": {"Acme Corp"}, "domains": {"acme.com, @Acme.co.uk"},
		"name": {"Ada"}, "email": {"Ada@Acme.com"}, "password": {"long enough pass"}}

	// Without the token, or with another one: refused.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("csrf", "forged")
	if r := b.post("/setup", bad); r.StatusCode != http.StatusForbidden {
		t.Fatalf("setup with a forged csrf: %d, want 403", r.StatusCode)
	}
	// Invalid fields: the form comes back with messages, nothing is created.
	short := url.Values{}
	for k, v := range form {
		short[k] = v
	}
	short.Set("password", "short")
	short.Set("domains", "not a domain!")
	r := b.post("/setup", short)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "at least 10 characters") || !strings.Contains(r.Body, "is not an email domain") {
		t.Fatalf("setup with bad fields: %d\n%s", r.StatusCode, r.Body)
	}
	short.Set("password", "            ") // long enough, but nothing in it
	short.Set("domains", form.Get("domains"))
	if r := b.post("/setup", short); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "The password is blank") {
		t.Fatalf("setup with a blank password: %d\n%s", r.StatusCode, r.Body)
	}
	short.Set("password", form.Get("password"))
	short.Set("name", "Ev\x1b[31mil\x07") // the CLI refuses control characters; so must the web
	if r := b.post("/setup", short); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "control characters") {
		t.Fatalf("setup with a control character in the name: %d\n%s", r.StatusCode, r.Body)
	}
	if n, _ := e.store.CountAdmins(context.Background()); n != 0 {
		t.Fatalf("a bad setup created %d admins", n)
	}

	r = b.post("/setup", form)
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/uploads/new") {
		t.Fatalf("setup: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	var sess *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "roster_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/", sess)
	}
	org, err := e.store.OrganizationBySlug(context.Background(), "acme-corp")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(org.Domains, ",") != "acme.co.uk,acme.com" && strings.Join(org.Domains, ",") != "acme.com,acme.co.uk" {
		t.Fatalf("domains %v", org.Domains)
	}
	a, err := e.store.AdminByEmail(context.Background(), "ada@acme.com")
	if err != nil || a.OrgID != org.ID || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("admin %+v, %v", a, err)
	}
	// Signed in straight away; setup is closed now.
	if r := b.get("/settings"); r.StatusCode != 200 || !strings.Contains(r.Body, "Acme Corp") {
		t.Fatalf("settings after setup: %d", r.StatusCode)
	}
	if r := e.browser().get("/setup"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin" {
		t.Fatalf("setup after the first admin: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	other := e.browser()
	tok = other.csrf("/signin")
	form.Set("csrf", tok)
	form.Set("email", "eve@acme.com")
	if r := other.post("/setup", form); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin" {
		t.Fatalf("a second setup: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if n, _ := e.store.CountAdmins(context.Background()); n != 1 {
		t.Fatalf("%d admins after a second setup, want 1", n)
	}
}

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SecureCookies = true })
	tn := e.tenant("acme")
	b := e.browser()

	// A page of the app sends an anonymous visitor to sign in, and back afterwards.
	r := b.get("/learners?q=x")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin?next=%2Flearners%3Fq%3Dx" {
		t.Fatalf("anonymous /learners: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	tok := b.csrf("/signin")
	r = b.post("/signin", url.Values{"csrf": {tok}, "email": {"admin@acme.com"}, "password": {"wrong password"}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Body, "not right") {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	r = b.post("/signin", url.Values{"csrf": {tok}, "email": {"nobody@acme.com"}, "password": {"wrong password"}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Body, "not right") {
		t.Fatalf("unknown email: %d (the answer must not tell it from a wrong password)", r.StatusCode)
	}
	r = b.post("/signin", url.Values{"csrf": {tok}, "email": {" ADMIN@acme.com "}, "password": {tn.Password}, "next": {"/learners?q=x"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/learners?q=x" {
		t.Fatalf("sign in: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range r.Cookies() {
		if c.Name == "__Host-roster_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v: want __Host- prefix, Secure, HttpOnly, SameSite", cookie)
	}
	// The store keeps the digest, never the cookie value.
	if _, err := e.store.SessionByHash(context.Background(), cookie.Value); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("the raw cookie value finds a session (%v): sessions must be stored hashed", err)
	}
	sess, err := e.store.SessionByHash(context.Background(), auth.Digest(cookie.Value))
	if err != nil || sess.AdminID != tn.Admin.ID {
		t.Fatalf("session by digest: %+v %v", sess, err)
	}

	// The Secure cookie is not sent over the test's plain HTTP by the jar: send it by hand.
	get := func(path string) *resp {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		return b.do(req)
	}
	if r := get("/learners"); r.StatusCode != 200 || !strings.Contains(r.Body, "admin@acme.com") {
		t.Fatalf("signed-in /learners: %d", r.StatusCode)
	}
	// Open redirects are refused.
	for _, next := range []string{"//evil.com/x", "https://evil.com", "/\\evil.com", "/\t/evil.com", "/\n/evil.com", "/\x00x",
		"/a/../\\evil.com", "/./\\evil.com", "/a\\b", "/x/..//evil.com", "/./x"} {
		if got := safeNext(next); got != "/learners" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
	// Through the page: http.Redirect cleans the path after safeNext, so "/a/../\evil.com"
	// once left as "/\evil.com", which browsers read as //evil.com.
	if r := get("/signin?next=" + url.QueryEscape("/a/../\\evil.com")); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/learners" {
		t.Errorf("signed in, /signin?next=/a/../\\evil.com: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if got := safeNext("/learners?q=a/../b#x"); got != "/learners?q=a/../b#x" {
		t.Errorf("a query may hold anything: %q", got)
	}

	// Sign out: the session is gone from the store, the cookie no longer works.
	m := csrfRE.FindStringSubmatch(get("/learners").Body)
	req, _ := http.NewRequest("POST", e.ts.URL+"/signout", strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if r := b.do(req); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.StatusCode)
	}
	if _, err := e.store.SessionByHash(context.Background(), auth.Digest(cookie.Value)); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("session still stored after sign out: %v", err)
	}
	if r := get("/learners"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie after sign out: %d, want 303 to sign in", r.StatusCode)
	}
}

func TestSessionExpires(t *testing.T) {
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *Config) { c.Now = func() time.Time { return now }; c.SessionTTL = time.Hour })
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	if r := b.get("/learners"); r.StatusCode != 200 {
		t.Fatalf("fresh session: %d", r.StatusCode)
	}
	now = now.Add(61 * time.Minute)
	if r := b.get("/learners"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("expired session: %d, want 303", r.StatusCode)
	}
}

func TestSignInRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SignInAttempts = 3; c.SignInWindow = time.Minute })
	tn := e.tenant("acme")
	b := e.browser()
	tok := b.csrf("/signin")
	for i := 0; i < 3; i++ {
		r := b.post("/signin", url.Values{"csrf": {tok}, "email": {tn.Admin.Email}, "password": {fmt.Sprint("guess", i)}})
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	// Now even the right password waits: a guesser cannot tell when it found it.
	r := b.post("/signin", url.Values{"csrf": {tok}, "email": {tn.Admin.Email}, "password": {tn.Password}})
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !strings.Contains(r.Body, "Too many failed sign-ins") {
		t.Fatalf("after 3 failures: %d %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
}

func TestRateLimiterWindow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(e.store, 2, time.Minute, func() time.Time { return now })
	blocked := func() (bool, time.Duration) {
		t.Helper()
		b, wait, err := l.blocked(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		return b, wait
	}
	if err := l.fail(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Second)
	if err := l.fail(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if b, wait := blocked(); !b || wait != 30*time.Second {
		t.Fatalf("blocked=%v wait=%v, want true 30s", b, wait)
	}
	now = now.Add(31 * time.Second) // the first failure left the window
	if b, _ := blocked(); b {
		t.Fatal("still blocked after the window moved")
	}
	if err := l.fail(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if b, _ := blocked(); !b {
		t.Fatal("not blocked after a second failure in the window")
	}
	if err := l.reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if b, _ := blocked(); b {
		t.Fatal("blocked after reset")
	}
}

// TestSignInRateLimitAcrossInstances: two servers on one store (as two instances on one
// PostgreSQL) share the count of failed sign-ins: failing on one blocks the other.
func TestSignInRateLimitAcrossInstances(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SignInAttempts = 3; c.SignInWindow = time.Minute })
	tn := e.tenant("acme")
	other, err := New(Config{Store: e.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SignInAttempts: 3, SignInWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(other)
	defer ts2.Close()
	b := e.browser()
	tok := b.csrf("/signin")
	for i := 0; i < 3; i++ {
		if r := b.post("/signin", url.Values{"csrf": {tok}, "email": {tn.Admin.Email}, "password": {fmt.Sprint("guess", i)}}); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	// The other instance, a browser of its own: the email is blocked there too.
	b2 := e.browserAt(ts2.URL)
	tok2 := b2.csrf("/signin")
	r := b2.post("/signin", url.Values{"csrf": {tok2}, "email": {tn.Admin.Email}, "password": {tn.Password}})
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the other instance after 3 failures on the first: %d", r.StatusCode)
	}
}

func TestCSRFOnEveryForm(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	for _, path := range []string{"/settings/tokens", "/settings/admins", "/settings/domains", "/signout", "/uploads/x/commit"} {
		r := b.post(path, url.Values{"name": {"x"}, "domains": {"x.com"}})
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without csrf: %d, want 403", path, r.StatusCode)
		}
		r = b.post(path, url.Values{"csrf": {"forged"}, "name": {"x"}})
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s with a forged csrf: %d, want 403", path, r.StatusCode)
		}
	}
	// A cross-site request is refused even with the right token (Fetch metadata).
	tok := b.csrf("/settings")
	req, _ := http.NewRequest("POST", e.ts.URL+"/settings/tokens", strings.NewReader(url.Values{"csrf": {tok}, "name": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := b.do(req); r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d, want 403", r.StatusCode)
	}
	// Every form of every page carries the token.
	for _, path := range []string{"/settings", "/uploads/new", "/learners"} {
		r := b.get(path)
		forms := strings.Count(r.Body, `method="post"`)
		if got := strings.Count(r.Body, `name="csrf"`); got < forms || forms == 0 && path != "/learners" {
			t.Errorf("%s: %d post forms, %d csrf fields", path, forms, got)
		}
	}
	if n := len(mustTokens(t, e, tn.Org.ID)); n != 1 {
		t.Fatalf("%d tokens: a refused form wrote something", n)
	}
}

// TestFormsRefuseMultipart: a form post other than the upload is url-encoded, 64 KiB at
// most. A multipart body is refused before it is read: it once skipped the CSRF check of
// every signed-in form (the upload handler checks its own token, the others did not), and
// it was spooled to temporary files nothing removed, signed in or not.
func TestFormsRefuseMultipart(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where net/http would spool a multipart body
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	big := strings.Repeat("x", 33<<20) // past what ParseMultipartForm keeps in memory
	multipartPost := func(path string, fields map[string]string) *resp {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		mw.Close()
		req, _ := http.NewRequest("POST", b.url()+path, &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return b.do(req)
	}
	for _, path := range []string{"/settings/domains", "/settings/tokens", "/settings/admins", "/signout", "/uploads/x/commit", "/signin", "/setup"} {
		r := multipartPost(path, map[string]string{"domains": "acme.com, evil.com", "name": "evil", "email": "x2@acme.com",
			"password": "aaaaaaaaaaaa", "junk": big})
		if r.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("multipart POST %s without csrf: %d, want 415\n%.300s", path, r.StatusCode, r.Body)
		}
	}
	// Nor any other body: without a Content-Type it used to be ignored and called an
	// expired form.
	for _, ct := range []string{"", "text/plain", "application/json"} {
		req, _ := http.NewRequest("POST", b.url()+"/settings/domains", strings.NewReader("domains=evil.com&csrf=x"))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if r := b.do(req); r.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("POST with Content-Type %q: %d, want 415\n%.300s", ct, r.StatusCode, r.Body)
		}
	}
	org, err := e.store.OrganizationByID(context.Background(), tn.Org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(org.Domains) != 1 || len(mustTokens(t, e, tn.Org.ID)) != 1 {
		t.Fatalf("a multipart form without a token wrote: domains %v, %d tokens", org.Domains, len(mustTokens(t, e, tn.Org.ID)))
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("multipart bodies left files in the temporary directory: %v", left)
	}
	// A url-encoded form over 64 KiB is "too large", not "expired".
	anon := e.browser()
	r := anon.post("/signin", url.Values{"csrf": {anon.csrf("/signin")}, "email": {"admin@acme.com"}, "password": {strings.Repeat("p", 100<<10)}})
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.Body, "too large") {
		t.Fatalf("a 100 KB sign-in form: %d\n%.300s", r.StatusCode, r.Body)
	}
	// The upload form is still multipart, and still checks its token.
	if r := b.uploadForm("people.csv", "first_name,last_name,employee_email\nAda,L,ada@acme.com\n"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the upload form: %d\n%.300s", r.StatusCode, r.Body)
	}
}

func mustTokens(t *testing.T, e *env, orgID string) []roster.APIToken {
	ts, err := e.store.Tokens(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestSettings(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	tok := b.csrf("/settings")

	// Add an admin who can then sign in.
	r := b.post("/settings/admins", url.Values{"csrf": {tok}, "name": {"Bo"}, "email": {"bo@acme.com"}, "password": {"bo-password-1"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("add admin: %d\n%s", r.StatusCode, r.Body)
	}
	if r := b.post("/settings/admins", url.Values{"csrf": {tok}, "email": {"bo@acme.com"}, "password": {"bo-password-1"}}); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "already exists") {
		t.Fatalf("same admin twice: %d", r.StatusCode)
	}
	if r := b.post("/settings/admins", url.Values{"csrf": {tok}, "name": {"Ev\x1b[31mil\x07"}, "email": {"ev@acme.com"}, "password": {"ev-password-1"}}); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "control characters") {
		t.Fatalf("an admin's name with control characters: %d", r.StatusCode)
	} else if !regexp.MustCompile(`<input id="admin-name"[^>]*aria-invalid="true" aria-describedby="err-admin_name" autofocus`).MatchString(r.Body) ||
		!strings.Contains(r.Body, `<div class="field-error" id="err-admin_name" role="alert">`) {
		// The form is far down the page: the field with the error takes the focus, and the
		// browser scrolls to it (the page came back at its top, the error out of sight); a
		// screen reader reads the error with the field.
		t.Errorf("the invalid field is not focused, or not described by its error:\n%s", regexp.MustCompile(`<input id="admin-name"[^>]*>`).FindString(r.Body))
	}
	bo := e.browser()
	bo.signIn(&tenant{Admin: &roster.Admin{Email: "bo@acme.com"}, Password: "bo-password-1"})
	if r := bo.get("/settings"); r.StatusCode != 200 || !strings.Contains(r.Body, "bo@acme.com") {
		t.Fatalf("new admin's settings: %d", r.StatusCode)
	}

	// Domains.
	if r := b.post("/settings/domains", url.Values{"csrf": {tok}, "domains": {"acme.com acme.de"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set domains: %d\n%s", r.StatusCode, r.Body)
	}
	org, _ := e.store.OrganizationByID(context.Background(), tn.Org.ID)
	if !org.HasDomain("acme.de") || !org.HasDomain("acme.com") || len(org.Domains) != 2 {
		t.Fatalf("domains %v", org.Domains)
	}
	if r := b.post("/settings/domains", url.Values{"csrf": {tok}, "domains": {""}}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("no domains: %d", r.StatusCode)
	}

	// Tokens: shown once, stored hashed, usable, revocable.
	r = b.post("/settings/tokens", url.Values{"csrf": {tok}, "name": {"HR sync"}})
	m := regexpToken.FindString(r.Body)
	if r.StatusCode != 200 || m == "" {
		t.Fatalf("create token: %d, token shown: %q", r.StatusCode, m)
	}
	if strings.Contains(b.get("/settings").Body, m) {
		t.Fatal("the token secret is shown again")
	}
	var id string
	for _, x := range mustTokens(t, e, tn.Org.ID) {
		if x.Name == "HR sync" {
			id = x.ID
			if x.Hash != auth.Digest(m) {
				t.Fatal("token not stored as its digest")
			}
		}
	}
	if r := e.api(m).get("/api/v1/learners"); r.StatusCode != 200 {
		t.Fatalf("new token: %d", r.StatusCode)
	}
	if r := b.post("/settings/tokens/"+id+"/revoke", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	apiError(t, e.api(m).get("/api/v1/learners"), http.StatusUnauthorized, "unauthorized")
}

func TestErrorStatus(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{roster.Errorf(roster.EINVALID, "x"), 400, "invalid"},
		{roster.Errorf(roster.ENOTFOUND, "x"), 404, "not_found"},
		{roster.Errorf(roster.ECONFLICT, "x"), 409, "conflict"},
		{roster.Errorf(roster.ESTALE, "x"), 409, "stale"},
		{roster.Errorf(roster.EFORBIDDEN, "x"), 403, "forbidden"},
		{roster.Errorf(roster.EINTERNAL, "x"), 500, "internal"},
		{errors.New("disk on fire"), 500, "internal"},
		{fmt.Errorf("wrapped: %w", roster.Errorf(roster.ENOTFOUND, "x")), 404, "not_found"},
		{&http.MaxBytesError{Limit: 1}, 413, "too_large"},
		{errTooLarge(1 << 20), 413, "too_large"},
		{errNoToken, 401, "unauthorized"},
	} {
		status, code, msg := errorStatus(c.err)
		if status != c.status || code != c.code || msg == "" {
			t.Errorf("errorStatus(%v) = %d %q %q, want %d %q", c.err, status, code, msg, c.status, c.code)
		}
		if c.code == "internal" && strings.Contains(msg, "disk") {
			t.Errorf("internal error leaks its cause: %q", msg)
		}
	}
}

func TestPages404AndHeaders(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	r := b.get("/no/such/page")
	if r.StatusCode != 404 || !strings.Contains(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(r.Body, "Page not found") {
		t.Fatalf("unknown page: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	// A signed-in admin's error pages have the top bar and lead back to the learners (they
	// offered "Sign in").
	for _, path := range []string{"/no/such/page", "/learners?cursor=garbage", "/learners/lrn_nope"} {
		r := b.get(path)
		if r.StatusCode < 400 || !strings.Contains(r.Body, "Go to learners") || !strings.Contains(r.Body, "Sign out") || strings.Contains(r.Body, `href="/signin"`) {
			t.Errorf("signed in, %s: %d\n%.400s", path, r.StatusCode, r.Body)
		}
	}
	r = b.get("/learners")
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if r.Header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, r.Header.Get(h), want)
		}
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("CSP %q", r.Header.Get("Content-Security-Policy"))
	}
	if r := b.get("/static/app.css"); r.StatusCode != 200 || !strings.Contains(r.Body, ".btn") {
		t.Fatalf("static css: %d", r.StatusCode)
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS over plain HTTP (no --secure-cookies): %q", r.Header.Get("Strict-Transport-Security"))
	}
	// Files only: no listing of the assets, and Roster's own 404 page.
	for _, path := range []string{"/static/", "/static/nope.js"} {
		if r := b.get(path); r.StatusCode != 404 || strings.Contains(r.Body, `<a href="app.css">`) || !strings.Contains(r.Body, "Page not found") {
			t.Errorf("%s: %d\n%.200s", path, r.StatusCode, r.Body)
		}
	}
	// The API's CSV downloads are no more cacheable than its JSON.
	if r := e.api(tn.Token).get("/api/v1/template.csv"); r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("API CSV Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	// Under --secure-cookies (HTTPS), browsers are told to keep to HTTPS.
	se := newEnv(t, func(c *Config) { c.SecureCookies = true })
	if r := se.browser().get("/signin"); !strings.HasPrefix(r.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("HSTS under --secure-cookies: %q", r.Header.Get("Strict-Transport-Security"))
	}
}

var regexpToken = mustRE(`rst_[A-Za-z0-9_-]{43}`)
