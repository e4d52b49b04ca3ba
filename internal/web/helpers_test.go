package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
	"github.com/roster-dev/roster/internal/sqlite"
)

// env is a real server over a real SQLite file, listening on loopback.
type env struct {
	t     *testing.T
	store roster.Store
	srv   *Server
	ts    *httptest.Server
}

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	var logOut io.Writer = io.Discard
	if os.Getenv("ROSTER_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	cfg := Config{Logger: slog.New(slog.NewTextHandler(logOut, nil))}
	for _, m := range mod {
		m(&cfg)
	}
	// The store and the server share the clock, as in production.
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"), sqlite.Options{Now: cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.Store = store
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{t: t, store: store, srv: srv, ts: ts}
}

// tenant is an organization with an admin (password "password-123") and an API token.
type tenant struct {
	Org      *roster.Organization
	Admin    *roster.Admin
	Password string
	Token    string
}

func (e *env) tenant(slug string) *tenant {
	e.t.Helper()
	ctx := context.Background()
	org := &roster.Organization{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:] + " Corp", Domains: []string{slug + ".com"}}
	if err := e.store.CreateOrganization(ctx, org); err != nil {
		e.t.Fatal(err)
	}
	hash, err := auth.HashPassword("password-123")
	if err != nil {
		e.t.Fatal(err)
	}
	a := &roster.Admin{OrgID: org.ID, Email: "admin@" + slug + ".com", Name: "Admin", PasswordHash: hash}
	if err := e.store.CreateAdmin(ctx, a); err != nil {
		e.t.Fatal(err)
	}
	tok := auth.NewAPIToken()
	if err := e.store.CreateToken(ctx, &roster.APIToken{OrgID: org.ID, Name: "test", Hash: auth.Digest(tok)}); err != nil {
		e.t.Fatal(err)
	}
	return &tenant{Org: org, Admin: a, Password: "password-123", Token: tok}
}

// browser is an HTTP client with a cookie jar that does not follow redirects, so tests
// see each 303.
type browser struct {
	e      *env
	c      *http.Client
	header http.Header
	base   string // the server's URL; e.ts.URL when ""
}

func (b *browser) url() string {
	if b.base != "" {
		return b.base
	}
	return b.e.ts.URL
}

// browserAt is a browser of another server (another instance on the same store).
func (e *env) browserAt(base string) *browser {
	b := e.browser()
	b.base = base
	return b
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, header: http.Header{}}
}

type resp struct {
	*http.Response
	Body string
}

func (b *browser) do(req *http.Request) *resp {
	b.e.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	r, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return &resp{r, string(body)}
}

func (b *browser) get(path string) *resp {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.url()+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) *resp {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.url()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads a page and returns the CSRF token of its forms.
func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	r := b.get(path)
	m := csrfRE.FindStringSubmatch(r.Body)
	if m == nil {
		b.e.t.Fatalf("GET %s (%d): no csrf field in\n%s", path, r.StatusCode, r.Body)
	}
	return m[1]
}

func (b *browser) signIn(tn *tenant) {
	b.e.t.Helper()
	tok := b.csrf("/signin")
	r := b.post("/signin", url.Values{"csrf": {tok}, "email": {tn.Admin.Email}, "password": {tn.Password}})
	if r.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("sign in: %d\n%s", r.StatusCode, r.Body)
	}
}

// uploadForm posts a file to the wizard as a browser form does (csrf field first).
func (b *browser) uploadForm(name, content string) *resp {
	b.e.t.Helper()
	tok := b.csrf("/uploads/new")
	body, ct := multipartBody(map[string]string{"csrf": tok}, name, content)
	req, _ := http.NewRequest("POST", b.url()+"/uploads", body)
	req.Header.Set("Content-Type", ct)
	return b.do(req)
}

func multipartBody(fields map[string]string, name, content string) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if name != "" {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write([]byte(content))
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// api is a client of the JSON API with one token.
type api struct {
	e     *env
	token string
}

func (e *env) api(token string) *api { return &api{e, token} }

func (a *api) do(method, path string, body io.Reader, ct string) *resp {
	a.e.t.Helper()
	req, _ := http.NewRequest(method, a.e.ts.URL+path, body)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		a.e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return &resp{r, string(b)}
}

func (a *api) get(path string) *resp { return a.do("GET", path, nil, "") }

func (a *api) upload(name, content string) *resp {
	body, ct := multipartBody(nil, name, content)
	return a.do("POST", "/api/v1/uploads", body, ct)
}

func decode[T any](t *testing.T, r *resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.Body)
	}
	return v
}

// apiError checks that r is the one error shape with the status and code given.
func apiError(t *testing.T, r *resp, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", r.StatusCode, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q, want JSON", ct)
	}
	var b struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil || b.Error == nil || b.Error.Message == "" {
		t.Fatalf("not the error shape: %v\n%s", err, r.Body)
	}
	if b.Error.Code != code {
		t.Fatalf("code %q, want %q (%s)", b.Error.Code, code, b.Error.Message)
	}
}

// seedLearners writes learners straight through the store (not the importer), so that
// tests of reading do not depend on the pipeline.
func (e *env) seedLearners(orgID string, ls ...roster.Learner) *roster.ImportBatch {
	e.t.Helper()
	b, err := e.store.Import(context.Background(), orgID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		var ch []roster.LearnerChange
		for i, l := range ls {
			ch = append(ch, roster.LearnerChange{Row: i + 2, Kind: roster.ChangeNew, After: l})
		}
		if err := tx.Write(ctx, ch); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "test", FileName: "seed.csv", Rows: len(ls), New: len(ls)}, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func mustRE(s string) *regexp.Regexp { return regexp.MustCompile(s) }
