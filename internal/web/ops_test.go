package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/sqlite"
)

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log records written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// jsonLogEnv is an env whose server logs JSON (debug level included) into a buffer.
func jsonLogEnv(t *testing.T, mod ...func(*Config)) (*env, *syncBuffer) {
	buf := &syncBuffer{}
	mods := append([]func(*Config){func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}}, mod...)
	return newEnv(t, mods...), buf
}

// scrape reads /metrics and returns the value of every sample, keyed as written
// (`name{label="value"}`).
func scrape(t *testing.T, url string, header http.Header) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", r.StatusCode)
	}
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	out := map[string]float64{}
	for _, l := range strings.Split(buf.String(), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		r := e.api("").get(p)
		if r.StatusCode != 200 || r.Body != "ok\n" {
			t.Fatalf("%s: %d %q", p, r.StatusCode, r.Body)
		}
		if r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("%s set a cookie: the probes are outside the session and CSRF middleware", p)
		}
	}
	// A POST is not a probe.
	if r := e.api("").do("POST", "/readyz", nil, ""); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /readyz: %d", r.StatusCode)
	}
	// The store goes away: the process is still alive, but it must not get traffic.
	e.store.Close()
	if r := e.api("").get("/healthz"); r.StatusCode != 200 {
		t.Fatalf("healthz with the store closed: %d", r.StatusCode)
	}
	if r := e.api("").get("/readyz"); r.StatusCode != 503 || strings.Contains(r.Body, "sql") {
		t.Fatalf("readyz with the store closed: %d %q (want 503, no detail)", r.StatusCode, r.Body)
	}
}

func TestReadyTimeoutAndShutdown(t *testing.T) {
	slow := make(chan struct{})
	defer close(slow)
	var fail bool
	var mu sync.Mutex
	e := newEnv(t, func(c *Config) {
		c.ReadyTimeout = 100 * time.Millisecond
		c.Ready = func(ctx context.Context) error {
			mu.Lock()
			f := fail
			mu.Unlock()
			if !f {
				return nil
			}
			select { // a store that hangs
			case <-slow:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	if r := e.api("").get("/readyz"); r.StatusCode != 200 {
		t.Fatalf("readyz: %d", r.StatusCode)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	start := time.Now()
	if r := e.api("").get("/readyz"); r.StatusCode != 503 {
		t.Fatalf("readyz with a hanging store: %d", r.StatusCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("readyz took %v with a 100ms timeout", d)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	e.srv.BeginShutdown()
	if r := e.api("").get("/readyz"); r.StatusCode != 503 || r.Body != "shutting down\n" {
		t.Fatalf("readyz while shutting down: %d %q", r.StatusCode, r.Body)
	}
	if r := e.api("").get("/healthz"); r.StatusCode != 200 {
		t.Fatalf("healthz while shutting down: %d", r.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	a := e.api(tn.Token)
	// One valid file committed, one with errors, one refused before a report.
	r := a.upload("ok.csv", "first_name,last_name,employee_email\nAda,Lovelace,ada@acme.com\nAlan,Turing,alan@acme.com\n")
	if r.StatusCode != 201 {
		t.Fatalf("upload: %d %s", r.StatusCode, r.Body)
	}
	id := decode[roster.ImportReport](t, r).ID
	if r := a.do("POST", "/api/v1/uploads/"+id+"/commit", nil, ""); r.StatusCode != 200 {
		t.Fatalf("commit: %d %s", r.StatusCode, r.Body)
	}
	a.do("POST", "/api/v1/uploads/"+id+"/commit", nil, "") // already committed
	bad := a.upload("bad.csv", "first_name,last_name,employee_email\nAda,,ada@acme\nBob,Smith,bob@other.com\nCy,Young,bob@other.com\n")
	badID := decode[roster.ImportReport](t, bad).ID
	apiError(t, a.do("POST", "/api/v1/uploads/"+badID+"/commit", nil, ""), 409, roster.ECONFLICT)
	apiError(t, a.do("POST", "/api/v1/uploads", strings.NewReader("x"), "text/plain"), 415, codeUnsupportedMedia)
	apiError(t, e.api("wrong").get("/api/v1/learners"), 401, codeUnauthorized)
	a.get("/api/v1/learners/lrn_nope")

	m := scrape(t, e.ts.URL+"/metrics", nil)
	want := map[string]float64{
		`roster_uploads_total{outcome="valid"}`:                                             1,
		`roster_uploads_total{outcome="invalid"}`:                                           1,
		`roster_uploads_total{outcome="rejected"}`:                                          1,
		`roster_uploads_total{outcome="failed"}`:                                            0,
		`roster_commits_total{outcome="committed"}`:                                         1,
		`roster_commits_total{outcome="already_committed"}`:                                 1,
		`roster_commits_total{outcome="conflict"}`:                                          1,
		`roster_rows_read_total{stage="validate"}`:                                          5,
		`roster_rows_read_total{stage="commit"}`:                                            2,
		`roster_import_validate_duration_seconds_count`:                                     2,
		`roster_import_commit_duration_seconds_count`:                                       1,
		`roster_import_errors_total{code="missing_required"}`:                               1,
		`roster_import_errors_total{code="invalid_email"}`:                                  1,
		`roster_import_errors_total{code="unrecognized_domain"}`:                            2,
		`roster_import_errors_total{code="duplicate_email"}`:                                2,
		`roster_http_errors_total{code="conflict"}`:                                         1,
		`roster_http_errors_total{code="unauthorized"}`:                                     1,
		`roster_http_errors_total{code="unsupported_media_type"}`:                           1,
		`roster_http_errors_total{code="not_found"}`:                                        1,
		`roster_http_requests_total{route="POST /api/v1/uploads",status="201"}`:             2,
		`roster_http_requests_total{route="POST /api/v1/uploads",status="415"}`:             1,
		`roster_http_requests_total{route="POST /api/v1/uploads/{id}/commit",status="200"}`: 2,
		`roster_http_requests_total{route="GET /api/v1/learners/{id}",status="404"}`:        1,
		`roster_http_request_duration_seconds_count{route="POST /api/v1/uploads"}`:          3,
		`roster_commits_in_flight`:                                                          0,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	for _, k := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	// No label carries a path with an ID in it: routes are patterns.
	for k := range m {
		if strings.Contains(k, "upl_") || strings.Contains(k, "lrn_") {
			t.Errorf("a label holds an ID: %s", k)
		}
	}
}

func TestMetricsToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MetricsToken = "s3cret-metrics" })
	if r := e.api("").get("/metrics"); r.StatusCode != 401 {
		t.Fatalf("/metrics without the token: %d", r.StatusCode)
	}
	if r := e.api("s3cret-metricsX").get("/metrics"); r.StatusCode != 401 {
		t.Fatalf("/metrics with a wrong token: %d", r.StatusCode)
	}
	m := scrape(t, e.ts.URL+"/metrics", http.Header{"Authorization": {"Bearer s3cret-metrics"}})
	if _, ok := m[`roster_uploads_total{outcome="valid"}`]; !ok {
		t.Fatal("no roster metrics with the right token")
	}

	// Served elsewhere: the main handler has no /metrics, MetricsHandler still works.
	h := newEnv(t, func(c *Config) { c.HideMetrics = true })
	if r := h.api("").get("/metrics"); r.StatusCode != 404 {
		t.Fatalf("/metrics with HideMetrics: %d", r.StatusCode)
	}
	ms := httptest.NewServer(h.srv.MetricsHandler())
	defer ms.Close()
	h.api("").get("/healthz")
	if m := scrape(t, ms.URL, nil); m[`roster_http_requests_total{route="GET /healthz",status="200"}`] != 1 {
		t.Fatal("the separate metrics handler does not see the main handler's requests")
	}
}

func TestRequestLog(t *testing.T) {
	e, logs := jsonLogEnv(t)
	tn := e.tenant("acme")
	e.api(tn.Token).get("/api/v1/learners?limit=5")
	e.api("").get("/healthz")
	b := e.browser()
	b.signIn(tn)
	b.get("/learners")

	var api, page, probe map[string]any
	for _, l := range logs.lines(t) {
		if l["msg"] != "request" {
			continue
		}
		switch l["route"] {
		case "GET /api/v1/learners":
			api = l
		case "GET /learners":
			page = l
		case "GET /healthz":
			probe = l
		}
	}
	if api == nil || page == nil || probe == nil {
		t.Fatalf("missing request lines: api=%v page=%v probe=%v", api, page, probe)
	}
	for name, l := range map[string]map[string]any{"api": api, "page": page} {
		if l["status"] != float64(200) || l["org"] != tn.Org.ID || l["level"] != "INFO" || l["method"] != "GET" {
			t.Errorf("%s line: %v", name, l)
		}
		if d, ok := l["duration_ms"].(float64); !ok || d <= 0 {
			t.Errorf("%s line has no duration: %v", name, l)
		}
	}
	if probe["level"] != "DEBUG" || probe["org"] != "" {
		t.Errorf("probe line: %v", probe)
	}
}

// TestErrorLoggedWithCause: a fault of ours shows a plain message and logs its cause.
func TestErrorLoggedWithCause(t *testing.T) {
	e, logs := jsonLogEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	// Close the store under the server: a token lookup fails inside the store.
	e.store.Close()
	r := e.api(tn.Token).get("/api/v1/learners")
	apiError(t, r, 500, roster.EINTERNAL)
	if strings.Contains(r.Body, "closed") {
		t.Fatalf("the cause leaked to the client: %s", r.Body)
	}
	var found bool
	for _, l := range logs.lines(t) {
		if l["msg"] == "request failed" && l["route"] == "GET /api/v1/learners" && l["level"] == "ERROR" {
			found = strings.Contains(fmt.Sprint(l["err"]), "closed")
		}
	}
	if !found {
		t.Fatal("no error line with the cause")
	}
}

// slowStore is the real store whose imports wait for a signal once their transaction is
// open, so that a test can stop the server in the middle of a commit.
type slowStore struct {
	roster.Store
	inTx    chan struct{} // closed when an import's transaction is open
	release chan struct{}
}

func (s *slowStore) Import(ctx context.Context, orgID string, v int64, fn roster.ImportFunc) (*roster.ImportBatch, error) {
	return s.Store.Import(ctx, orgID, v, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		close(s.inTx)
		<-s.release
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return fn(ctx, tx)
	})
}

// TestShutdownLetsCommitFinish: SIGTERM arrives while a commit's transaction is open, and
// the shutdown deadline passes before it ends. The HTTP server gives up on the request
// (its connection is closed), but the commit runs to its end and Wait returns only then.
func TestShutdownLetsCommitFinish(t *testing.T) {
	real, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	st := &slowStore{Store: real, inTx: make(chan struct{}), release: make(chan struct{})}
	srv, err := New(Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e := &env{t: t, store: st, srv: srv, ts: ts}
	tn := e.tenant("acme")
	a := e.api(tn.Token)
	rep := decode[roster.ImportReport](t, a.upload("ok.csv", "first_name,last_name,employee_email\nAda,Lovelace,ada@acme.com\n"))

	clientDone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", ts.URL+"/api/v1/uploads/"+rep.ID+"/commit", nil)
		req.Header.Set("Authorization", "Bearer "+tn.Token)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		clientDone <- err
	}()
	select {
	case <-st.inTx:
	case <-time.After(10 * time.Second):
		t.Fatal("the commit did not start")
	}
	// What serve does on SIGTERM: not ready, then Shutdown with a deadline, then Close
	// when the deadline passes, then Wait.
	srv.BeginShutdown()
	sctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.Config.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown returned %v while a commit ran", err)
	}
	ts.Config.Close() // cuts the connection: the request's context is cancelled
	if err := <-clientDone; err == nil {
		t.Log("the client got an answer before its connection was closed")
	}
	waited := make(chan error, 1)
	go func() { waited <- srv.Wait(context.Background()) }()
	select {
	case err := <-waited:
		t.Fatalf("Wait returned (%v) while the commit's transaction was open", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(st.release)
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the commit ended")
	}
	// The commit went through, and the upload knows it.
	u, err := real.Upload(context.Background(), tn.Org.ID, rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != roster.UploadCommitted || u.BatchID == "" {
		t.Fatalf("upload after shutdown: status %q batch %q", u.Status, u.BatchID)
	}
	n, err := real.Lookup(tn.Org.ID).CountLearners(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("learners after shutdown: %d %v", n, err)
	}
}
