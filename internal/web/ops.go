package web

// Operations: health and readiness probes, Prometheus metrics, the per-request log line
// and the bookkeeping that lets a shutdown wait for the commits in flight.

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roster-dev/roster"
)

// metrics are the server's own: they live in a registry the server owns (never the
// global default), so two servers in one process (tests) do not share counters.
type metrics struct {
	reg           *prometheus.Registry
	uploads       *prometheus.CounterVec
	commits       *prometheus.CounterVec
	rows          *prometheus.CounterVec
	validateDur   prometheus.Histogram
	commitDur     prometheus.Histogram
	importErrors  *prometheus.CounterVec
	fileQueue     prometheus.Gauge
	httpErrors    *prometheus.CounterVec
	requests      *prometheus.CounterVec
	requestDur    *prometheus.HistogramVec
	inFlight      prometheus.Gauge
	commitsFlight prometheus.Gauge
}

// importBuckets span a ten-row file (milliseconds) to a million rows on a slow disk.
var importBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320}

// contractCodes are the label values of roster_import_errors_total: the contract's error
// codes, and "other" for anything else, so a bug cannot grow the label set.
var contractCodes = map[string]bool{
	roster.CodeMissingRequired: true, roster.CodeInvalidEmail: true, roster.CodeUnrecognizedDomain: true,
	roster.CodeDuplicateEmail: true, roster.CodeDuplicateEmployeeID: true, roster.CodeEmployeeIDConflict: true,
	roster.CodeInvalidName: true, roster.CodeTooLong: true, roster.CodeInvalidValue: true,
	roster.CodeMalformedRow: true, roster.CodeUnsupportedFormat: true, roster.CodeEmptyFile: true,
	roster.CodeFileTooLarge: true, roster.CodeTooManyRows: true, roster.CodeMissingColumn: true,
	roster.CodeDuplicateColumn: true,
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_uploads_total",
			Help: "Learner files received, by outcome: valid, invalid (the report has errors), rejected (refused before a report: too large, not multipart, no file), failed (a fault of ours while validating).",
		}, []string{"outcome"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_commits_total",
			Help: "Commit requests, by outcome: committed, already_committed, stale (the learners moved; validated again), conflict (errors or still checking), failed.",
		}, []string{"outcome"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_rows_read_total",
			Help: "Data rows read from learner files, by stage (validate or commit).",
		}, []string{"stage"}),
		validateDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "roster_import_validate_duration_seconds", Help: "Time to read and check one learner file (a preview).",
			Buckets: importBuckets,
		}),
		commitDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "roster_import_commit_duration_seconds", Help: "Time of one commit: the import transaction and the upload's bookkeeping.",
			Buckets: importBuckets,
		}),
		importErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_import_errors_total",
			Help: "Errors found in learner files, by the import contract's code (each validation counts its errors).",
		}, []string{"code"}),
		fileQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roster_file_queue",
			Help: "Validations and commits waiting for a file slot (--file-workers) on this instance.",
		}),
		httpErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_http_errors_total",
			Help: "Error responses, by the API's error code (invalid, not_found, conflict, stale, internal...).",
		}, []string{"code"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_http_requests_total", Help: "HTTP requests, by route pattern and status.",
		}, []string{"route", "status"}),
		requestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "roster_http_request_duration_seconds", Help: "HTTP request duration, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roster_http_requests_in_flight", Help: "Requests being served.",
		}),
		commitsFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roster_commits_in_flight", Help: "Commits running; a shutdown waits for them.",
		}),
	}
	m.reg.MustRegister(m.uploads, m.commits, m.rows, m.validateDur, m.commitDur, m.importErrors,
		m.fileQueue, m.httpErrors, m.requests, m.requestDur, m.inFlight, m.commitsFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that exist before their first event, so dashboards and alerts see zeros.
	for _, o := range []string{"valid", "invalid", "rejected", "failed"} {
		m.uploads.WithLabelValues(o)
	}
	for _, o := range []string{"committed", "already_committed", "stale", "conflict", "failed"} {
		m.commits.WithLabelValues(o)
	}
	m.rows.WithLabelValues("validate")
	m.rows.WithLabelValues("commit")
	return m
}

// countImportErrors adds a report's errors to the per-code counters.
func (m *metrics) countImportErrors(rep *roster.ImportReport) {
	for code, n := range rep.ErrorCodes {
		if !contractCodes[code] {
			code = "other"
		}
		m.importErrors.WithLabelValues(code).Add(float64(n))
	}
}

// Registry is the server's metrics registry: the command registers what only it knows
// about (the store's connection pool, the periodic jobs) there.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// MetricsHandler serves the registry in the Prometheus text format. With Config.MetricsToken
// set it wants "Authorization: Bearer TOKEN".
func (s *Server) MetricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg})
	tok := s.cfg.MetricsToken
	if tok == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+tok)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="roster-metrics"`)
			http.Error(w, "metrics need the token set in ROSTER_METRICS_TOKEN", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// healthz says the process is alive and serving; it touches no database, so a store
// outage does not get every instance restarted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz says whether this instance should get traffic: the store answers within
// Config.ReadyTimeout and the server is not shutting down. The cause of a failure is
// logged, not shown: the probe needs no credentials.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		s.log.Warn("not ready: the store does not answer", "err", err, "timeout", s.cfg.ReadyTimeout)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// defaultReady asks the store a real question: its schema version when it can tell it
// (both stores can), otherwise how many admins it has.
func defaultReady(store roster.Store) func(context.Context) error {
	if sv, ok := store.(interface {
		SchemaVersion(context.Context) (int64, error)
	}); ok {
		return func(ctx context.Context) error { _, err := sv.SchemaVersion(ctx); return err }
	}
	return func(ctx context.Context) error { _, err := store.CountAdmins(ctx); return err }
}

// reqInfo is filled in while a request is served, for its log line: the middleware that
// finds the caller records the organization there.
type reqInfo struct {
	orgID string
	gone  bool // answerGone aborted the answer: recorded as statusClientClosed
}

const reqInfoKey ctxKey = 2

func noteOrg(ctx context.Context, orgID string) {
	if ri, ok := ctx.Value(reqInfoKey).(*reqInfo); ok {
		ri.orgID = orgID
	}
}

func orgIDFor(r *http.Request) string {
	if ri, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
		return ri.orgID
	}
	return ""
}

// routeLabel is the route pattern that served r ("GET /uploads/{id}"): a bounded label,
// unlike the path. Requests no route took share one label.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == "/" {
		return "unmatched"
	}
	return r.Pattern
}

// quietRoutes are the probes: logged at debug level, or they would drown the log.
var quietRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// observe logs one line for the request and counts it.
func (s *Server) observe(r *http.Request, sw *statusWriter, start time.Time) {
	took := time.Since(start)
	route := routeLabel(r)
	status := sw.status
	if status == 0 {
		status = http.StatusOK // a handler that wrote nothing
	}
	s.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	s.metrics.requestDur.WithLabelValues(route).Observe(took.Seconds())
	level := slog.LevelInfo
	if quietRoutes[route] {
		level = slog.LevelDebug
	}
	s.log.LogAttrs(r.Context(), level, "request",
		slog.String("route", route), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("org", orgIDFor(r)), slog.Int64("bytes", sw.bytes), slog.String("remote", s.clientIP(r)))
}

// work counts what a shutdown must wait for: commits, which run to their end even when
// the client goes away or the server is told to stop, and background validations.
// Hand-written rather than a sync.WaitGroup: work may start while Wait is waiting (a
// request that was already in a handler), which a WaitGroup forbids.
type work struct {
	mu   sync.Mutex
	n    int
	idle chan struct{}
}

func (w *work) start() (done func()) {
	w.mu.Lock()
	if w.n == 0 {
		w.idle = make(chan struct{})
	}
	w.n++
	w.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			w.n--
			if w.n == 0 {
				close(w.idle)
			}
			w.mu.Unlock()
		})
	}
}

func (w *work) running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *work) wait(ctx context.Context) error {
	w.mu.Lock()
	if w.n == 0 {
		w.mu.Unlock()
		return nil
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BeginShutdown makes /readyz answer 503, so that a load balancer stops sending new
// requests, and stops the background validations (an upload whose validation was cut is
// validated again by whichever instance is asked for it next).
func (s *Server) BeginShutdown() {
	s.draining.Store(true)
	s.cancelBG()
}

// Wait returns when no commit or background validation is running, or when ctx ends.
// A shutdown calls it after http.Server.Shutdown, before closing the store: a commit is
// never cut by the shutdown deadline (its transaction would be rolled back anyway, but
// the admin would have to start over).
func (s *Server) Wait(ctx context.Context) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.work.wait(wctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Info("waiting for commits to finish", "running", s.work.running())
	}
}
