package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/postgres"
	"github.com/roster-dev/roster/internal/postgres/pgtest"
	"github.com/roster-dev/roster/internal/sqlite"
)

// pgInstances starts n servers, each with its own store (its own connection pool, its
// own caches and locks), on one PostgreSQL schema: several instances behind a balancer,
// in one test process so that the race can be aimed.
func pgInstances(t *testing.T, n int) []*env {
	t.Helper()
	u, _ := pgtest.Schema(t, "roster_web")
	out := make([]*env, n)
	for i := range out {
		out[i] = serveOn(t, openPG(t, u), nil)
	}
	return out
}

// openPG opens a PostgreSQL store, closed when the test ends.
func openPG(t *testing.T, u string) *postgres.DB {
	t.Helper()
	st, err := postgres.Open(context.Background(), u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// serveOn starts a server on st (served through wrap, when given, as the server's
// store) on loopback, stopped when the test ends.
func serveOn(t *testing.T, st roster.Store, wrap func(roster.Store) roster.Store) *env {
	t.Helper()
	cfg := Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if wrap != nil {
		cfg.Store = wrap(st)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Wait(context.Background()) })
	return &env{t: t, store: st, srv: srv, ts: ts}
}

// peopleCSV is n learners of acme.com in one department.
func peopleCSV(n int, dept string) string {
	var sb strings.Builder
	sb.WriteString("first_name,last_name,employee_email,department\n")
	for i := range n {
		fmt.Fprintf(&sb, "Ada,Lovelace,ada%d@acme.com,%s\n", i, dept)
	}
	return sb.String()
}

// commitAll posts the commits at once, one per (client, upload ID), and returns the
// responses in the same order.
func commitAll(t *testing.T, clients []*api, ids []string) []*resp {
	t.Helper()
	out := make([]*resp, len(ids))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ids {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequest("POST", clients[i].e.ts.URL+"/api/v1/uploads/"+ids[i]+"/commit", nil)
			req.Header.Set("Authorization", "Bearer "+clients[i].token)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("commit %d: %v", i, err)
				return
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			out[i] = &resp{r, string(b)}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// TestSameUploadCommittedThroughTwoInstances: a double submit that the balancer spreads
// over two instances. The per-process lock cannot see it; the organization's lock and the
// upload's row do: one batch, and the upload keeps the report of the commit that wrote it
// (the other instance, finding the learners moved, checks the file again, and that
// report must not replace the committed one).
func TestSameUploadCommittedThroughTwoInstances(t *testing.T) {
	t.Parallel()
	in := pgInstances(t, 2)
	tn := in[0].tenant("acme")
	a, b := in[0].api(tn.Token), in[1].api(tn.Token)
	const n = 20000
	for round := range 3 {
		rep := decode[roster.ImportReport](t, a.upload("people.csv", peopleCSV(n, fmt.Sprint("Dept ", round))))
		if !rep.Valid {
			t.Fatalf("round %d: the file is invalid: %+v", round, rep.Summary)
		}
		res := commitAll(t, []*api{a, b}, []string{rep.ID, rep.ID})
		var batch string
		for i, r := range res {
			if r.StatusCode != http.StatusOK {
				t.Fatalf("round %d: commit through instance %d: %d %s", round, i, r.StatusCode, r.Body)
			}
			got := decode[roster.ImportReport](t, r)
			if !got.Committed || got.BatchID == "" {
				t.Fatalf("round %d: commit through instance %d answered an uncommitted report: %.300s", round, i, r.Body)
			}
			if batch != "" && got.BatchID != batch {
				t.Fatalf("round %d: the two commits name two batches: %s and %s", round, batch, got.BatchID)
			}
			batch = got.BatchID
		}
		for i, c := range []*api{a, b} {
			got := decode[roster.ImportReport](t, c.get("/api/v1/uploads/"+rep.ID))
			if !got.Committed || got.BatchID != batch {
				t.Fatalf("round %d: instance %d shows the upload as committed=%v batch=%q (want %s): %+v",
					round, i, got.Committed, got.BatchID, batch, got.Summary)
			}
			want := roster.Summary{New: n}
			if round > 0 {
				want = roster.Summary{Updated: n}
			}
			if got.Summary.New != want.New || got.Summary.Updated != want.Updated {
				t.Fatalf("round %d: instance %d shows the summary %+v, want %d new, %d updated: the committed report was replaced",
					round, i, got.Summary, want.New, want.Updated)
			}
		}
		batches, err := in[0].store.ImportBatches(context.Background(), tn.Org.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) != round+1 {
			t.Fatalf("round %d: %d import batches, want %d: one upload was written twice", round, len(batches), round+1)
		}
	}
	if c, err := in[1].store.Lookup(tn.Org.ID).CountLearners(context.Background()); err != nil || c != n {
		t.Fatalf("%d learners (%v), want %d", c, err, n)
	}
}

// TestRacingCommitsAcrossInstances: two admins preview two files at the same version of
// the directory and commit them at once through two instances. One commit writes; the
// other finds the learners moved, writes nothing, and answers 409 with its file checked
// again against what the first wrote; committed after that, it writes its changes.
func TestRacingCommitsAcrossInstances(t *testing.T) {
	t.Parallel()
	in := pgInstances(t, 2)
	tn := in[0].tenant("acme")
	a, b := in[0].api(tn.Token), in[1].api(tn.Token)
	const n = 20000
	r1 := decode[roster.ImportReport](t, a.upload("rd.csv", peopleCSV(n, "R&D")))
	r2 := decode[roster.ImportReport](t, b.upload("sales.csv", peopleCSV(n, "Sales")))
	if r1.Summary.New != n || r2.Summary.New != n {
		t.Fatalf("previews: %+v and %+v, want %d new each", r1.Summary, r2.Summary, n)
	}
	res := commitAll(t, []*api{a, b}, []string{r1.ID, r2.ID})
	won, lost := -1, -1
	for i, r := range res {
		switch r.StatusCode {
		case http.StatusOK:
			won = i
		case http.StatusConflict:
			lost = i
		default:
			t.Fatalf("commit %d: %d %s", i, r.StatusCode, r.Body)
		}
	}
	if won < 0 || lost < 0 {
		t.Fatalf("want one commit and one conflict, got %d and %d", res[0].StatusCode, res[1].StatusCode)
	}
	if !strings.Contains(res[lost].Body, `"stale"`) {
		t.Fatalf("the losing commit did not say the learners moved: %s", res[lost].Body)
	}
	store := in[0].store
	if c, err := store.Lookup(tn.Org.ID).CountLearners(context.Background()); err != nil || c != n {
		t.Fatalf("%d learners after the race (%v), want %d: a duplicate or a lost write", c, err, n)
	}
	batches, err := store.ImportBatches(context.Background(), tn.Org.ID, 10)
	if err != nil || len(batches) != 1 {
		t.Fatalf("%d batches (%v), want 1", len(batches), err)
	}
	clients, ids, depts := []*api{a, b}, []string{r1.ID, r2.ID}, []string{"R&D", "Sales"}
	// The loser's upload was checked again, against the winner's learners, on both
	// instances' view: every row is now an update of its department.
	for i, c := range clients {
		got := decode[roster.ImportReport](t, c.get("/api/v1/uploads/"+ids[lost]))
		if got.Committed || got.Summary.New != 0 || got.Summary.Updated != n {
			t.Fatalf("instance %d: the losing upload's report after the race: committed=%v %+v, want %d updated",
				i, got.Committed, got.Summary, n)
		}
	}
	if c := countIn(t, store, tn.Org.ID, depts[won]); c != n {
		t.Fatalf("%d learners in %s after the race, want all %d", c, depts[won], n)
	}
	// Committed again, the re-validated upload writes its changes.
	r := clients[lost].do("POST", "/api/v1/uploads/"+ids[lost]+"/commit", nil, "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("second commit of the re-validated upload: %d %s", r.StatusCode, r.Body)
	}
	if c := countIn(t, store, tn.Org.ID, depts[lost]); c != n {
		t.Fatalf("%d learners in %s after the second commit, want all %d", c, depts[lost], n)
	}
}

// countIn counts the organization's learners in a department, page by page.
func countIn(t *testing.T, store roster.Store, orgID, dept string) int {
	t.Helper()
	f := roster.LearnerFilter{Department: dept, Limit: 1000}
	n := 0
	for {
		page, err := store.Learners(context.Background(), orgID, f)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Learners)
		if page.NextCursor == "" {
			return n
		}
		f.Cursor = page.NextCursor
	}
}

// cleanupAfterImport is the store with the clean-up of abandoned uploads landing right
// after each import commits, before the upload is marked committed: what a short
// --upload-ttl, or a preview left open for a day, makes happen.
type cleanupAfterImport struct{ roster.Store }

func (c cleanupAfterImport) Import(ctx context.Context, orgID string, v int64, fn roster.ImportFunc) (*roster.ImportBatch, error) {
	b, err := c.Store.Import(ctx, orgID, v, fn)
	if err == nil {
		_, err = c.DeleteUploadsBefore(ctx, time.Now().Add(time.Hour))
	}
	return b, err
}

// TestCommitOutlivesCleanup: when the clean-up removes an upload during its commit, the
// answer still says what was written (it said 404 "upload not found" over 200,000 written
// learners).
func TestCommitOutlivesCleanup(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "roster.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := serveOn(t, st, func(s roster.Store) roster.Store { return cleanupAfterImport{s} })
	tn := e.tenant("acme")
	c := e.api(tn.Token)
	rep := decode[roster.ImportReport](t, c.upload("people.csv", peopleCSV(500, "R&D")))
	r := c.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", nil, "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("commit: %d %s", r.StatusCode, r.Body)
	}
	got := decode[roster.ImportReport](t, r)
	if !got.Committed || got.BatchID == "" || got.Summary.New != 500 {
		t.Fatalf("the commit's answer: committed=%v batch=%q %+v", got.Committed, got.BatchID, got.Summary)
	}
	if n, err := st.Lookup(tn.Org.ID).CountLearners(context.Background()); err != nil || n != 500 {
		t.Fatalf("%d learners (%v), want 500", n, err)
	}
	if _, err := st.Upload(context.Background(), tn.Org.ID, rep.ID); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("the test's clean-up did not remove the upload: %v", err)
	}
}

// TestDatabaseUnavailable: when PostgreSQL refuses connections, requests answer 503 with
// Retry-After (it was a 500, "something went wrong"), and the instance recovers by itself
// once the database is back.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	u := pgtest.Database(t, "roster_web_down", "")
	e := serveOn(t, openPG(t, u), nil)
	tn := e.tenant("acme")
	a := e.api(tn.Token)
	if r := a.get("/api/v1/learners"); r.StatusCode != http.StatusOK {
		t.Fatalf("before: %d %s", r.StatusCode, r.Body)
	}
	name := u[strings.LastIndex(u, "/")+1:]
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i]
	}
	admin := pgtest.Connect(t)
	defer admin.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "'")
	for _, path := range []string{"/api/v1/learners", "/api/v1/learners"} { // a dead pooled connection, then a refused new one
		r := a.get(path)
		if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || !strings.Contains(r.Body, `"unavailable"`) {
			t.Fatalf("GET %s with the database down: %d (Retry-After %q) %s", path, r.StatusCode, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if r := e.browser().get("/signin"); r.StatusCode != http.StatusOK && r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("the sign-in page with the database down: %d", r.StatusCode)
	}
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
	if r := a.get("/api/v1/learners"); r.StatusCode != http.StatusOK {
		t.Fatalf("after the database came back: %d %s", r.StatusCode, r.Body)
	}
}

// A request whose client went away is not a server error: no 500 in the metrics a 5xx
// alert watches, no error in the log, and no made-up status line sent (a client that only
// closed its sending side still reads): the answer is aborted, the 499 only recorded.
func TestClientGoneIsNotAServerError(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{"/api/v1/learners", "/api/v1/uploads/upl_x"} {
		r := httptest.NewRequestWithContext(ctx, "GET", path, nil)
		r.Header.Set("Authorization", "Bearer "+tn.Token)
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != http.ErrAbortHandler {
					t.Errorf("%s: recovered %v, want http.ErrAbortHandler", path, v)
				}
			}()
			e.srv.ServeHTTP(w, r)
		}()
		if w.Body.Len() != 0 {
			t.Errorf("%s: an answer was written to a client that is gone: %d %q", path, w.Code, w.Body)
		}
	}
	m := scrape(t, e.ts.URL+"/metrics", nil)
	if m[`roster_http_requests_total{route="GET /api/v1/learners",status="499"}`] != 1 || m[`roster_http_errors_total{code="canceled"}`] != 2 {
		// (the upload route may fail at the token or at the upload: canceled either way)
		t.Errorf("the cancelled requests are not recorded as 499 and canceled: %v", m)
	}
	for k, v := range m {
		if strings.HasPrefix(k, "roster_http_requests_total") && strings.Contains(k, `status="5`) && v > 0 {
			t.Errorf("%s = %v", k, v)
		}
	}
	// The same error on a live request is still an error of ours.
	w := httptest.NewRecorder()
	e.srv.renderError(w, httptest.NewRequest("GET", "/api/v1/learners", nil), context.Canceled)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("a cancellation that is not the client's: %d", w.Code)
	}
}

// TestRequestTimeout: a page or an API read that waits longer than RequestTimeout for
// the store answers 503; a download is not bounded by it. (A nanosecond: every store call
// is past its deadline before it starts.)
func TestRequestTimeout(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	// Signed in first; then the routes again, with the timeout.
	e.srv.cfg.RequestTimeout = time.Nanosecond
	e.srv.mux = http.NewServeMux()
	e.srv.routes()
	a := e.api(tn.Token)
	r := a.get("/api/v1/learners")
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, `"unavailable"`) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("an API read past its deadline: %d %s", r.StatusCode, r.Body)
	}
	if r := b.get("/learners"); r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "Try again in a moment") {
		t.Fatalf("a page past its deadline: %d\n%.300s", r.StatusCode, r.Body)
	}
	if r := b.get("/learners/export.csv"); r.StatusCode != http.StatusOK {
		t.Fatalf("the export is bounded by the request timeout: %d", r.StatusCode)
	}
}

// TestFileWorkers: an instance reads at most FileWorkers files at once; an upload beyond
// that waits for a slot (counted in roster_file_queue) and goes on when one is free. Three
// concurrent million-row uploads peaked at 497 MB before there were slots.
func TestFileWorkers(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FileWorkers = 1 })
	tn := e.tenant("acme")
	release, err := e.srv.fileSlot(context.Background()) // the one slot, taken
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *resp, 1)
	go func() {
		body, ct := multipartBody(nil, "people.csv", peopleCSV(10, "R&D"))
		req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/uploads", body)
		req.Header.Set("Authorization", "Bearer "+tn.Token)
		req.Header.Set("Content-Type", ct)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- nil
			return
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		done <- &resp{r, string(b)}
	}()
	for i := 0; i < 500 && testutil.ToFloat64(e.srv.metrics.fileQueue) != 1; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if q := testutil.ToFloat64(e.srv.metrics.fileQueue); q != 1 {
		t.Fatalf("roster_file_queue = %v while the only slot is taken, want 1", q)
	}
	select {
	case r := <-done:
		t.Fatalf("the upload did not wait for the slot: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	r := <-done
	if r == nil || r.StatusCode != http.StatusCreated {
		t.Fatalf("the upload after the slot was freed: %+v", r)
	}
	if q := testutil.ToFloat64(e.srv.metrics.fileQueue); q != 0 {
		t.Fatalf("roster_file_queue = %v after, want 0", q)
	}
}

// slowCount stretches CountAdmins, so that two setups racing on two instances both get
// past it unless something orders them.
type slowCount struct {
	roster.Store
	l roster.Locker
}

func (s slowCount) CountAdmins(ctx context.Context) (int, error) {
	time.Sleep(300 * time.Millisecond)
	return s.Store.CountAdmins(ctx)
}

func (s slowCount) TryLock(ctx context.Context, name string) (func(), bool, error) {
	return s.l.TryLock(ctx, name)
}

// TestSetupOnceAcrossInstances: two people setting up a fresh deployment through two
// instances at once make one organization; the second is sent to sign in. The lock that
// ordered them was inside each process only, and two organizations came out.
func TestSetupOnceAcrossInstances(t *testing.T) {
	u, _ := pgtest.Schema(t, "roster_web")
	st := openPG(t, u)
	var envs []*env
	for range 2 {
		envs = append(envs, serveOn(t, openPG(t, u), func(s roster.Store) roster.Store { return slowCount{s, s.(roster.Locker)} }))
	}
	var wg sync.WaitGroup
	status := make([]int, 2)
	browsers, forms := make([]*browser, 2), make([]url.Values, 2)
	for i, e := range envs { // both forms first, then both posts at once
		browsers[i] = e.browser()
		forms[i] = url.Values{"csrf": {browsers[i].csrf("/setup")}, "org_name": {fmt.Sprintf("Org %d", i)}, "domains": {fmt.Sprintf("org%d.com", i)},
			"email": {fmt.Sprintf("admin@org%d.com", i)}, "password": {"long enough pass"}}
	}
	for i := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i] = browsers[i].post("/setup", forms[i]).StatusCode
		}()
	}
	wg.Wait()
	orgs, err := st.Organizations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 {
		t.Fatalf("%d organizations after two racing setups (answers %v)", len(orgs), status)
	}
	if status[0] != http.StatusSeeOther || status[1] != http.StatusSeeOther {
		t.Fatalf("answers %v, want a redirect each (to the app, and to sign in)", status)
	}
}
