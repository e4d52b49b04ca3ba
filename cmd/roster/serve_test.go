package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/postgres"
	"github.com/roster-dev/roster/internal/postgres/pgtest"
)

// rosterBinary compiles this command into the test's temporary directory (the build
// cache makes the second build of a run a matter of linking).
func rosterBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "roster")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// testDatabase creates a PostgreSQL database of the test's own and drops it at the end.
func testDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.Database(t, "roster_serve", "")
}

// instance is one `roster serve` process.
type instance struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:PORT
	metrics string // its /metrics URL
	stderr  *lockedBuffer
	exited  chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	runningRE = regexp.MustCompile(`Open (http://\S+)/ in your browser`)
	metricsRE = regexp.MustCompile(`Metrics: (http://\S+/metrics)`)
)

// startServe starts `roster serve` on a free loopback port and waits until it is ready.
func startServe(t *testing.T, bin, name string, env []string, args ...string) *instance {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, name: name, cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = in.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-in.exited
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, in.stderr.String())
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		in.exited <- cmd.Wait()
	}()
	deadline := time.After(30 * time.Second)
	for in.url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before serving:\n%s", name, in.stderr.String())
			}
			if m := metricsRE.FindStringSubmatch(l); m != nil {
				in.metrics = m[1]
			}
			if m := runningRE.FindStringSubmatch(l); m != nil {
				in.url = m[1]
			}
		case <-deadline:
			t.Fatalf("%s did not start:\n%s", name, in.stderr.String())
		}
	}
	go func() {
		for range lines { // keep draining stdout
		}
	}()
	if in.metrics == "" {
		in.metrics = in.url + "/metrics"
	}
	if r := in.get("/readyz", ""); r.status != 200 {
		t.Fatalf("%s /readyz: %d", name, r.status)
	}
	return in
}

type answer struct {
	status int
	body   string
}

func (in *instance) do(method, path, token, ct string, body io.Reader) answer {
	in.t.Helper()
	req, _ := http.NewRequest(method, in.url+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s %s: %v", in.name, method, path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return answer{r.StatusCode, string(b)}
}

func (in *instance) get(path, token string) answer { return in.do("GET", path, token, "", nil) }

func (in *instance) upload(token, name, content string) answer {
	in.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte(content))
	mw.Close()
	return in.do("POST", "/api/v1/uploads", token, mw.FormDataContentType(), &buf)
}

// scrape returns the samples of a /metrics page, keyed as written.
func scrapeMetrics(t *testing.T, u, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, r.StatusCode)
	}
	b, _ := io.ReadAll(r.Body)
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, _ := strconv.ParseFloat(l[i+1:], 64)
		out[l[:i]] = v
	}
	return out
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.exited:
		if err != nil {
			in.t.Fatalf("%s exited with %v:\n%s", in.name, err, in.stderr.String())
		}
	case <-time.After(20 * time.Second):
		in.t.Fatalf("%s did not stop on SIGTERM", in.name)
	}
	if !strings.Contains(in.stderr.String(), `"msg":"stopped"`) {
		in.t.Fatalf("%s: no clean stop in its log:\n%s", in.name, in.stderr.String())
	}
}

func runCLI(t *testing.T, bin, db, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--db", db)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("roster %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

const threePeople = "first_name,last_name,employee_email,department\n" +
	"Ada,Lovelace,ada@acme.com,R&D\nAlan,Turing,alan@acme.com,R&D\nGrace,Hopper,grace@acme.com,Navy\n"

// TestTwoInstancesOnePostgres is the proof that Roster runs as several stateless
// instances: two `roster serve` processes share one PostgreSQL database; a file uploaded
// through A is committed through B, both list the same learners, a session made on one
// is valid on the other, an abandoned upload is removed (by one of them: the clean-up
// runs under a lock), and both stop cleanly on SIGTERM.
func TestTwoInstancesOnePostgres(t *testing.T) {
	db := testDatabase(t)
	bin := rosterBinary(t)

	runCLI(t, bin, db, "", "org", "create", "--slug", "acme", "--name", "Acme Corp", "--domain", "acme.com")
	token := strings.TrimSpace(runCLI(t, bin, db, "", "token", "create", "--org", "acme", "--name", "ci"))
	runCLI(t, bin, db, "correct horse battery\n", "admin", "create", "--org", "acme", "--email", "admin@acme.com", "--password-stdin")

	const every = 200 * time.Millisecond
	common := []string{"--db", db, "--upload-ttl", "6s", "--cleanup-every", every.String(), "--statement-timeout", "30s"}
	start := time.Now()
	a := startServe(t, bin, "A", nil, common...)
	b := startServe(t, bin, "B", []string{"ROSTER_METRICS_TOKEN=metrics-secret"},
		append(common, "--metrics-addr", "127.0.0.1:0")...)

	// Upload through A, read and commit through B.
	up := a.upload(token, "people.csv", threePeople)
	if up.status != 201 {
		t.Fatalf("upload on A: %d %s", up.status, up.body)
	}
	var rep roster.ImportReport
	json.Unmarshal([]byte(up.body), &rep)
	if !rep.Valid || rep.Summary.New != 3 || rep.ID == "" {
		t.Fatalf("report from A: %s", up.body)
	}
	if r := b.get("/api/v1/uploads/"+rep.ID, token); r.status != 200 || !strings.Contains(r.body, `"new": 3`) {
		t.Fatalf("the upload seen from B: %d %s", r.status, r.body)
	}
	cm := b.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", token, "", nil)
	if cm.status != 200 || !strings.Contains(cm.body, `"committed": true`) {
		t.Fatalf("commit on B: %d %s", cm.status, cm.body)
	}
	// A sees it committed: committing again there writes nothing.
	if r := a.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", token, "", nil); r.status != 200 || !strings.Contains(r.body, `"committed": true`) {
		t.Fatalf("second commit on A: %d %s", r.status, r.body)
	}

	// Both list the same learners.
	for _, in := range []*instance{a, b} {
		r := in.get("/api/v1/learners?limit=10&sort=email", token)
		var page struct {
			Learners []roster.Learner `json:"learners"`
		}
		if err := json.Unmarshal([]byte(r.body), &page); err != nil || r.status != 200 {
			t.Fatalf("learners on %s: %d %s", in.name, r.status, r.body)
		}
		var emails []string
		for _, l := range page.Learners {
			emails = append(emails, l.Email)
		}
		if got := strings.Join(emails, " "); got != "ada@acme.com alan@acme.com grace@acme.com" {
			t.Fatalf("learners on %s: %s", in.name, got)
		}
	}

	// Sessions live in the database: sign in on A, browse on B (no sticky sessions).
	jar, _ := cookiejar.New(nil) // cookies ignore ports: one jar serves both instances
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := browser.Get(a.url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field on A's sign-in page")
	}
	signin, err := browser.PostForm(b.url+"/signin", url.Values{"csrf": {string(m[1])}, "email": {"admin@acme.com"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	signin.Body.Close()
	if signin.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in on B with A's form: %d", signin.StatusCode)
	}
	lp, err := browser.Get(a.url + "/learners")
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(lp.Body)
	lp.Body.Close()
	if lp.StatusCode != 200 || !strings.Contains(string(lb), "grace@acme.com") {
		t.Fatalf("A's learners page with B's session: %d", lp.StatusCode)
	}

	// An upload nobody commits is removed after --upload-ttl, by whichever instance runs
	// the clean-up; the committed one stays.
	ab := b.upload(token, "abandoned.csv", threePeople)
	var abRep roster.ImportReport
	json.Unmarshal([]byte(ab.body), &abRep)
	deadline := time.Now().Add(30 * time.Second)
	for a.get("/api/v1/uploads/"+abRep.ID, token).status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned upload was not removed within 30 s (TTL 6 s)")
		}
		time.Sleep(every)
	}
	if r := b.get("/api/v1/uploads/"+rep.ID, token); r.status != 200 {
		t.Fatalf("the committed upload was removed: %d", r.status)
	}

	// Metrics: each instance counts what it did; the clean-up ran about once per period
	// across both, not once per period on each.
	ma := scrapeMetrics(t, a.metrics, "")
	if r := b.get("/metrics", ""); r.status != 404 {
		t.Fatalf("B serves /metrics on its main address although --metrics-addr is set: %d", r.status)
	}
	if r, _ := http.Get(b.metrics); r == nil || r.StatusCode != 401 {
		t.Fatalf("B's metrics without ROSTER_METRICS_TOKEN: %v", r)
	}
	mb := scrapeMetrics(t, b.metrics, "metrics-secret")
	elapsed := time.Since(start)
	check := func(name string, m map[string]float64, key string, want float64) {
		t.Helper()
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("%s: %s = %v (present %v), want %v", name, key, got, ok, want)
		}
	}
	check("A", ma, `roster_uploads_total{outcome="valid"}`, 1)
	check("B", mb, `roster_uploads_total{outcome="valid"}`, 1)
	check("B", mb, `roster_commits_total{outcome="committed"}`, 1)
	check("A", ma, `roster_commits_total{outcome="already_committed"}`, 1)
	check("A", ma, `roster_rows_read_total{stage="validate"}`, 3)
	check("B", mb, `roster_rows_read_total{stage="commit"}`, 3)
	for name, m := range map[string]map[string]float64{"A": ma, "B": mb} {
		if m["roster_db_pool_max_conns"] < 1 || m["roster_db_pool_acquires_total"] < 1 {
			t.Errorf("%s: no pool metrics (max %v, acquires %v)", name, m["roster_db_pool_max_conns"], m["roster_db_pool_acquires_total"])
		}
	}
	runs := ma[`roster_job_runs_total{job="cleanup-uploads",outcome="ok"}`] + mb[`roster_job_runs_total{job="cleanup-uploads",outcome="ok"}`]
	ticks := float64(elapsed / every)
	t.Logf("clean-up runs in %v: A %v, B %v (one instance ticks %v times)", elapsed.Round(time.Millisecond),
		ma[`roster_job_runs_total{job="cleanup-uploads",outcome="ok"}`], mb[`roster_job_runs_total{job="cleanup-uploads",outcome="ok"}`], ticks)
	if runs < ticks/2 || runs > ticks+2 {
		t.Errorf("clean-up ran %v times across both instances in %v ticks: want at most one run per tick", runs, ticks)
	}
	removed := ma["roster_abandoned_uploads_removed_total"] + mb["roster_abandoned_uploads_removed_total"]
	if removed != 1 {
		t.Errorf("uploads removed across both instances: %v, want 1", removed)
	}

	// Logs: JSON, one line per request with route, status and organization.
	var sawCommit bool
	for _, l := range strings.Split(b.stderr.String(), "\n") {
		var rec map[string]any
		if l == "" {
			continue
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("B logged a line that is not JSON: %q", l)
		}
		if rec["msg"] == "request" && rec["route"] == "POST /api/v1/uploads/{id}/commit" && rec["status"] == float64(200) && rec["org"] != "" {
			sawCommit = true
		}
	}
	if !sawCommit {
		t.Error("B's log has no request line for the commit")
	}

	a.stop()
	// B still serves with A gone.
	if r := b.get("/api/v1/learners", token); r.status != 200 {
		t.Fatalf("B after A stopped: %d", r.status)
	}
	b.stop()
}

func TestServeConfig(t *testing.T) {
	envOf := func(vars map[string]string) *env {
		return &env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return vars[k] }}
	}
	c, err := parseServe(envOf(map[string]string{
		"ROSTER_UPLOAD_TTL": "2h", "ROSTER_ADDR": "127.0.0.1:9000", "ROSTER_DB": "sqlite:x.db",
		"ROSTER_METRICS_TOKEN": "tok", "ROSTER_STATEMENT_TIMEOUT": "45s", "ROSTER_SECURE_COOKIES": "true",
		"ROSTER_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5,::1",
	}), []string{"--upload-ttl", "3h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.UploadTTL != 3*time.Hour || c.Addr != "127.0.0.1:9000" || c.DB != "sqlite:x.db" || c.MetricsToken != "tok" ||
		c.StatementTimeout != 45*time.Second || !c.SecureCookies || c.CleanupEvery != time.Hour || c.ShutdownTimeout != 30*time.Second ||
		c.TrustedProxies.String() != "10.0.0.0/8,192.168.1.5/32,::1/128" {
		t.Fatalf("config: %+v", c)
	}
	// A flag wins over its variable, even one that cannot be read.
	if c, err := parseServe(envOf(map[string]string{"ROSTER_MAX_ROWS": "abc"}), []string{"--max-rows", "5"}); err != nil || c.MaxRows != 5 {
		t.Fatalf("--max-rows 5 with ROSTER_MAX_ROWS=abc: %v %v", c, err)
	}
	for _, bad := range []struct {
		env  map[string]string
		args []string
	}{
		{map[string]string{"ROSTER_MAX_ROWS": "abc"}, nil},
		{nil, []string{"--cleanup-every", "1ms"}},
		{nil, []string{"--log-format", "xml"}},
		{nil, []string{"--log-level", "loud"}},
		{nil, []string{"--upload-ttl", "0s"}},
		{nil, []string{"--statement-timeout", "-1s"}},
		{nil, []string{"extra"}},
		{map[string]string{"ROSTER_SECURE_COOKIES": "maybe"}, nil},
		{map[string]string{"ROSTER_UPLOAD_TTL": "soon"}, nil},
		{nil, []string{"--trusted-proxies", "10.0.0.0/8,the-balancer"}},
		{map[string]string{"ROSTER_TRUSTED_PROXIES": "10.0.0.0/33"}, nil},
	} {
		var ue *usageError
		if _, err := parseServe(envOf(bad.env), bad.args); !errors.As(err, &ue) {
			t.Errorf("env %v args %v: %v, want a usage error", bad.env, bad.args, err)
		}
	}
}

// TestServeSQLite: the embedded store serves, probes and metrics work, text logs on
// request, and SIGTERM stops it cleanly.
func TestServeSQLite(t *testing.T) {
	bin := rosterBinary(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "roster.db")
	runCLI(t, bin, db, "", "org", "create", "--slug", "acme", "--name", "Acme Corp", "--domain", "acme.com")
	token := strings.TrimSpace(runCLI(t, bin, db, "", "token", "create", "--org", "acme"))
	in := startServe(t, bin, "sqlite", []string{"ROSTER_DB=" + db}, "--log-format", "text", "--shutdown-delay", "3s")
	if r := in.get("/healthz", ""); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	up := in.upload(token, "people.csv", threePeople)
	var rep roster.ImportReport
	json.Unmarshal([]byte(up.body), &rep)
	if r := in.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", token, "", nil); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	m := scrapeMetrics(t, in.metrics, "")
	if m[`roster_commits_total{outcome="committed"}`] != 1 || m[`roster_job_runs_total{job="cleanup-uploads",outcome="ok"}`] != 1 {
		t.Fatalf("metrics: commits %v, clean-up runs %v", m[`roster_commits_total{outcome="committed"}`], m[`roster_job_runs_total{job="cleanup-uploads",outcome="ok"}`])
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	// --shutdown-delay: the balancer's health check sees the 503 before the listener
	// closes (without it the listener closed within a millisecond and it never did).
	saw503 := false
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !saw503; time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(in.url + "/readyz"); err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			saw503 = r.StatusCode == 503 && strings.Contains(string(b), "shutting down")
		}
	}
	if !saw503 {
		t.Error("/readyz never answered 503 shutting down during --shutdown-delay")
	}
	select {
	case err := <-in.exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, in.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit on SIGTERM")
	}
	log := in.stderr.String()
	if !strings.Contains(log, "level=INFO msg=stopped") || !strings.Contains(log, `route="POST /api/v1/uploads/{id}/commit"`) {
		t.Fatalf("text log:\n%s", log)
	}
}

// TestSIGTERMDuringCommit: SIGTERM reaches an instance while it commits a large file, and
// the shutdown's grace period (100 ms) ends long before the commit does. The process
// closes the connection but waits for the transaction, records the commit, then exits 0:
// every learner is in the database and the upload is marked committed.
func TestSIGTERMDuringCommit(t *testing.T) {
	db := testDatabase(t)
	bin := rosterBinary(t)
	runCLI(t, bin, db, "", "org", "create", "--slug", "acme", "--name", "Acme Corp", "--domain", "acme.com")
	token := strings.TrimSpace(runCLI(t, bin, db, "", "token", "create", "--org", "acme"))
	in := startServe(t, bin, "A", nil, "--db", db, "--shutdown-timeout", "100ms")

	const rows = 200_000
	var sb strings.Builder
	sb.WriteString("first_name,last_name,employee_email,department\n")
	for i := range rows {
		sb.WriteString("Ada,Lovelace,ada" + strconv.Itoa(i) + "@acme.com,R&D\n")
	}
	up := in.upload(token, "big.csv", sb.String())
	var rep roster.ImportReport
	if err := json.Unmarshal([]byte(up.body), &rep); err != nil || !rep.Valid {
		t.Fatalf("upload: %d %.300s", up.status, up.body)
	}

	go func() {
		req, _ := http.NewRequest("POST", in.url+"/api/v1/uploads/"+rep.ID+"/commit", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if r, err := http.DefaultClient.Do(req); err == nil {
			r.Body.Close()
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for scrapeMetrics(t, in.metrics, "")["roster_commits_in_flight"] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the commit did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	sent := time.Now()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, in.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit within 60 s of SIGTERM")
	}
	t.Logf("exited %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	log := in.stderr.String()
	if !strings.Contains(log, "requests still running at the end of the grace period") {
		t.Fatalf("the commit ended within the 100 ms grace period: the test proves nothing\n%s", log)
	}

	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	var status string
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM learners").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT status FROM uploads WHERE id = $1", rep.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if n != rows || status != roster.UploadCommitted {
		t.Fatalf("after shutdown: %d learners (want %d), upload %q", n, rows, status)
	}
}

// TestPoolFitsFileWorkers: each file read holds a pooled connection and now and then needs
// a second, and the jobs' instance holds one: a pool smaller than the file workers plus two
// could deadlock, so it is refused, or the default file workers are lowered to fit.
func TestPoolFitsFileWorkers(t *testing.T) {
	u, _ := pgtest.Schema(t, "roster_serve")
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		conns, workers, want int
		refused              bool
	}{
		{conns: 2, refused: true},
		{conns: 3, workers: 1, want: 1},
		{conns: 3, workers: 2, refused: true},
		{conns: 3, want: 1}, // the default (at least 2) lowered
		{conns: 4, workers: 2, want: 2},
		{conns: 10, workers: 8, want: 8},
	} {
		store, err := postgres.Open(context.Background(), u, postgres.Options{MaxConns: int32(tc.conns)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := poolFileWorkers(store, tc.workers, log)
		store.Close()
		var ue *usageError
		switch {
		case tc.refused && !errors.As(err, &ue):
			t.Errorf("pool %d, --file-workers %d: %v, want a usage error", tc.conns, tc.workers, err)
		case !tc.refused && (err != nil || got != tc.want):
			t.Errorf("pool %d, --file-workers %d: %d workers (%v), want %d", tc.conns, tc.workers, got, err, tc.want)
		}
	}
	if got, err := poolFileWorkers(nil, 5, log); err != nil || got != 5 {
		t.Errorf("no pool (SQLite): %d %v", got, err)
	}
}
