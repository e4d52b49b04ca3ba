// Package web is Roster's HTTP server: the admin web app (server-rendered pages from the
// templates in internal/assets) and the JSON API under /api/v1. It holds the routing, the
// middleware (sessions, CSRF, rate limiting, logging, recovery) and the one function that
// turns an error into a status and an HTML page or a JSON body. Every handler is scoped to
// the organization of the signed-in admin or of the API token; the store does the rest.
package web

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/assets"
	"github.com/roster-dev/roster/internal/importer"
)

// Config is what the server needs. Store is required; the rest has defaults.
type Config struct {
	Store  roster.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Limits bound one uploaded file (importer defaults when zero). A request body larger
	// than MaxBytes plus the multipart overhead is refused with 413 before it is stored.
	Limits importer.Limits
	// SecureCookies sets the Secure flag (and the __Host- prefix) on cookies. Turn it off
	// only for plain-HTTP development on localhost.
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts (default 12 hours).
	SessionTTL time.Duration
	// SignInAttempts is how many failed sign-ins an email or an address may make per
	// SignInWindow before it has to wait (defaults 10 and 15 minutes).
	SignInAttempts int
	SignInWindow   time.Duration
	// TrustedProxies are the load balancers (addresses or ranges) whose X-Forwarded-For
	// is believed: a request from one of them is from the address the header names (see
	// clientIP). Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// Ready answers /readyz: nil when the store can serve. Default: a query to the store.
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds that check (default 2 seconds); slower counts as not ready.
	ReadyTimeout time.Duration
	// MetricsToken, when set, is the Bearer token /metrics wants.
	MetricsToken string
	// HideMetrics leaves /metrics out of the handler, for a command that serves
	// MetricsHandler on an address of its own.
	HideMetrics bool
	// RequestTimeout bounds the pages and API reads that answer from the store in
	// milliseconds (not the uploads, commits and downloads, which take as long as their
	// file): past it the request answers 503. It keeps a database that stopped answering
	// from holding requests (and a browser tab) indefinitely. Zero: no limit.
	RequestTimeout time.Duration
	// FileWorkers is how many files this instance reads at once (validations and commits;
	// default: the number of CPUs, at least 2). Each holds up to ~300 MB for a million-row
	// file; the others wait their turn, so memory stays bounded however many admins upload
	// together.
	FileWorkers int
}

// Server is the web app and the API; it implements http.Handler.
type Server struct {
	cfg     Config
	store   roster.Store
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	files   chan struct{} // a slot per file being read (Config.FileWorkers)
	pages   map[string]*template.Template
	static  http.Handler
	limiter *rateLimiter
	jobs    *jobs
	preview *previewCache
	dirs    directoryCache
	locks   keyedMutex
	setupMu sync.Mutex
	cop     *http.CrossOriginProtection
	// ctx outlives requests: background validations run under it. BeginShutdown cancels it.
	ctx      context.Context
	cancelBG context.CancelFunc
	metrics  *metrics
	draining atomic.Bool
	work     work // commits and background validations a shutdown waits for
}

// New parses the templates (a broken one fails here, not on first use) and builds the
// routes.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("web: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits.MaxBytes <= 0 {
		cfg.Limits.MaxBytes = importer.DefaultMaxBytes
	}
	if cfg.Limits.MaxRows <= 0 {
		cfg.Limits.MaxRows = importer.DefaultMaxRows
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SignInAttempts <= 0 {
		cfg.SignInAttempts = 10
	}
	if cfg.SignInWindow <= 0 {
		cfg.SignInWindow = 15 * time.Minute
	}
	if cfg.Ready == nil {
		cfg.Ready = defaultReady(cfg.Store)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	if cfg.FileWorkers <= 0 {
		cfg.FileWorkers = max(2, runtime.GOMAXPROCS(0))
	}
	s := &Server{
		cfg:     cfg,
		store:   cfg.Store,
		log:     cfg.Logger,
		now:     cfg.Now,
		mux:     http.NewServeMux(),
		limiter: newRateLimiter(cfg.Store, cfg.SignInAttempts, cfg.SignInWindow, cfg.Now),
		jobs:    newJobs(),
		preview: newPreviewCache(64),
		cop:     http.NewCrossOriginProtection(),
		metrics: newMetrics(),
		files:   make(chan struct{}, cfg.FileWorkers),
	}
	s.ctx, s.cancelBG = context.WithCancel(context.Background())
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	static, err := fs.Sub(assets.FS, "static")
	if err != nil {
		return nil, err
	}
	s.static = s.staticFiles(static)
	s.routes()
	return s, nil
}

// ServeHTTP adds the headers every response gets, recovers from panics (logged, shown as
// a plain 500), and logs and counts each request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	ri := &reqInfo{}
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey, ri))
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	h := sw.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if s.cfg.SecureCookies {
		// Served over HTTPS (that is what --secure-cookies says): browsers keep to it.
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				if ri.gone && !sw.wrote {
					sw.status = statusClientClosed
				}
				s.observe(r, sw, start)
				panic(v) // net/http closes the connection without a word
			}
			s.log.Error("panic", "route", routeLabel(r), "method", r.Method, "path", r.URL.Path, "org", orgIDFor(r), "panic", v, "stack", string(debug.Stack()))
			if !sw.wrote {
				s.renderError(sw, r, roster.Errorf(roster.EINTERNAL, "panic"))
			}
		}
		s.observe(r, sw, start)
	}()
	s.mux.ServeHTTP(sw, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// staticFiles serves the embedded assets under /static/: files only (no directory
// listing), with Roster's own 404 page for anything else.
func (s *Server) staticFiles(fsys fs.FS) http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if fi, err := fs.Stat(fsys, name); err != nil || fi.IsDir() || !fs.ValidPath(name) {
			s.notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// keyedMutex serialises work on one key (an upload being committed) inside this process,
// so that a double click commits once; the store's version check covers other instances.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	n int
}

func (k *keyedMutex) Lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.n++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		l.n--
		if l.n == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
