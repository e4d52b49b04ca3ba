package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/term"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
	"github.com/roster-dev/roster/internal/jobs"
	"github.com/roster-dev/roster/internal/postgres"
	"github.com/roster-dev/roster/internal/web"
)

// serveConfig is everything `roster serve` reads from its flags and the environment.
type serveConfig struct {
	DB               string
	Addr             string
	SecureCookies    bool
	MaxUploadMB      int64
	MaxRows          int
	LogFormat        string
	LogLevel         string
	MetricsAddr      string
	MetricsToken     string // ROSTER_METRICS_TOKEN only: a secret does not belong in argv
	ShutdownTimeout  time.Duration
	ShutdownDelay    time.Duration
	StatementTimeout time.Duration
	RequestTimeout   time.Duration
	FileWorkers      int
	DBMaxConns       int
	UploadTTL        time.Duration
	CleanupEvery     time.Duration
	ReadyTimeout     time.Duration
	TrustedProxies   prefixList
}

// prefixList is a flag of comma-separated IP addresses and CIDR ranges.
type prefixList []netip.Prefix

func (l *prefixList) String() string {
	out := make([]string, len(*l))
	for i, p := range *l {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

func (l *prefixList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			*l = append(*l, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return fmt.Errorf("%q is neither an IP address nor a CIDR range", f)
		}
		*l = append(*l, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return nil
}

// serveFlags defines serve's flags on fs. Every flag can also come from the environment
// as ROSTER_ + its name in capitals with underscores (--upload-ttl: ROSTER_UPLOAD_TTL);
// a flag on the command line wins.
func serveFlags(fs *flag.FlagSet, c *serveConfig) {
	fs.StringVar(&c.Addr, "addr", ":8080", "address to listen on")
	fs.BoolVar(&c.SecureCookies, "secure-cookies", false, "mark cookies Secure (set it when Roster is served over HTTPS)")
	fs.Int64Var(&c.MaxUploadMB, "max-upload-mb", importer.DefaultMaxBytes>>20, "largest learner file accepted, in MiB")
	fs.IntVar(&c.MaxRows, "max-rows", importer.DefaultMaxRows, "most data rows in one learner file")
	fs.StringVar(&c.LogFormat, "log-format", "auto", "log format: json, text, or auto (text on a terminal, JSON otherwise)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090) instead of on --addr")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long requests in flight get before their connections are closed (commits always run to their end)")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", 0, "on SIGTERM, how long to go on serving with /readyz at 503 before closing the listener, so that a load balancer's health check sees it (0: close at once)")
	fs.DurationVar(&c.StatementTimeout, "statement-timeout", 5*time.Minute, "PostgreSQL: longest a single SQL statement may run (0: the server's setting)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", time.Minute, "longest a page or an API read may wait for the store before it answers 503 (0: no limit; uploads, commits and downloads are not bounded)")
	fs.IntVar(&c.FileWorkers, "file-workers", 0, "files this instance validates or commits at once; the others wait their turn (0: the number of CPUs, at least 2, and on PostgreSQL at most the pool less 2)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 0, "PostgreSQL: connections in this instance's pool (0: max(4, CPUs), or pool_max_conns in the URL)")
	fs.DurationVar(&c.UploadTTL, "upload-ttl", 24*time.Hour, "uploads never committed are deleted this long after they were last touched")
	fs.DurationVar(&c.CleanupEvery, "cleanup-every", time.Hour, "how often abandoned uploads are looked for (on one instance at a time)")
	fs.DurationVar(&c.ReadyTimeout, "ready-timeout", 2*time.Second, "/readyz answers 503 when the store takes longer than this to answer")
	fs.Var(&c.TrustedProxies, "trusted-proxies", "comma-separated addresses or CIDR ranges of the load balancers whose X-Forwarded-For names the client (for the sign-in limiter and the request log); empty: the TCP peer is the client")
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "ROSTER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServe parses serve's command line over its environment.
func parseServe(e *env, args []string) (*serveConfig, error) {
	fs, db := newFlags(e, "serve")
	c := &serveConfig{}
	serveFlags(fs, c)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	// The variables, for the flags the command line left out: a flag wins over its
	// variable, even over one that could not be read.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "db" || given[f.Name] {
			return // --db falls back to ROSTER_DB through dbURL
		}
		if v, ok := lookupEnv(e, envName(f.Name)); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = usagef("%s=%q: %v", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if fs.NArg() > 0 {
		return nil, usagef("serve takes no arguments, got %q", fs.Args())
	}
	c.DB = e.dbURL(*db)
	c.MetricsToken = e.getenv("ROSTER_METRICS_TOKEN")
	switch {
	case c.MaxUploadMB < 1 || c.MaxRows < 1:
		return nil, usagef("--max-upload-mb and --max-rows must be positive")
	case c.LogFormat != "auto" && c.LogFormat != "json" && c.LogFormat != "text":
		return nil, usagef("--log-format must be auto, json or text")
	case c.ShutdownTimeout < 0 || c.ShutdownDelay < 0 || c.StatementTimeout < 0 || c.RequestTimeout < 0 || c.DBMaxConns < 0 || c.FileWorkers < 0:
		return nil, usagef("--shutdown-timeout, --shutdown-delay, --statement-timeout, --request-timeout, --db-max-conns and --file-workers cannot be negative")
	case c.UploadTTL < time.Second || c.CleanupEvery < 10*time.Millisecond || c.ReadyTimeout <= 0:
		return nil, usagef("--upload-ttl must be at least 1s, --cleanup-every at least 10ms, and --ready-timeout positive")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, usagef("--log-level must be debug, info, warn or error")
	}
	return c, nil
}

// lookupEnv returns a variable of the environment; set to "" counts as not set.
func lookupEnv(e *env, name string) (string, bool) {
	v := e.getenv(name)
	return v, v != ""
}

// newLogger makes the process's logger: JSON for log collectors, text for a person at a
// terminal.
func newLogger(c *serveConfig, stderr io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel)) // checked by parseServe
	opts := &slog.HandlerOptions{Level: lvl}
	format := c.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}

// serveStore opens the store with the options only serve has.
func serveStore(ctx context.Context, c *serveConfig) (roster.Store, error) {
	if strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://") {
		s, err := postgres.Open(ctx, c.DB, postgres.Options{
			StatementTimeout: c.StatementTimeout, MaxConns: int32(c.DBMaxConns),
		})
		if err != nil && roster.ErrorCode(err) != roster.EINVALID && ctx.Err() == nil {
			// Exit 2 on one line, as every other command does for a store it cannot open.
			return nil, &openError{oneLine(err.Error())}
		}
		return s, err
	}
	return openStore(ctx, c.DB)
}

// runServe runs the web app and the API until SIGINT or SIGTERM, then shuts down:
//
//  1. /readyz answers 503, so a load balancer stops sending new requests;
//  2. the listener closes and requests in flight get --shutdown-timeout to finish; after
//     that their connections are closed;
//  3. commits still running are waited for, however long they take: a commit's context
//     is detached from its request, so neither step 2 nor a client that hangs up cuts
//     its transaction (each statement is still bounded by --statement-timeout);
//  4. the periodic jobs stop (a clean-up cut short rolls back), the store is closed.
func runServe(ctx context.Context, e *env, args []string) error {
	c, err := parseServe(e, args)
	if err != nil {
		return err
	}
	logger := newLogger(c, e.stderr)
	store, err := serveStore(ctx, c)
	if err != nil {
		return err
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			store.Close()
		}
	}()
	locker, ok := store.(roster.Locker)
	if !ok {
		return fmt.Errorf("the %T store cannot lock jobs across instances", store)
	}
	fileWorkers, err := poolFileWorkers(store, c.FileWorkers, logger)
	if err != nil {
		return err
	}

	srv, err := web.New(web.Config{
		Store: store, Logger: logger, Now: time.Now, SecureCookies: c.SecureCookies,
		Limits:       importer.Limits{MaxBytes: c.MaxUploadMB << 20, MaxRows: c.MaxRows},
		ReadyTimeout: c.ReadyTimeout, MetricsToken: c.MetricsToken, HideMetrics: c.MetricsAddr != "",
		TrustedProxies: c.TrustedProxies, RequestTimeout: c.RequestTimeout, FileWorkers: fileWorkers,
	})
	if err != nil {
		return err
	}
	registerStoreMetrics(srv.Registry(), store)
	jm := newJobMetrics(srv.Registry())

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return roster.Errorf(roster.EINVALID, "cannot listen on %s: %v", c.Addr, err)
	}
	// Requests do not inherit the signal's cancellation: on SIGTERM they get the
	// shutdown's grace period instead of being cut at once.
	base := context.WithoutCancel(ctx)
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No ReadTimeout/WriteTimeout: a large upload or export may take minutes.
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return base },
	}
	servers := []*http.Server{hs}
	errc := make(chan error, 2)
	metricsAt := ln.Addr().String() + " (on --addr)"
	if c.MetricsAddr != "" {
		mln, err := net.Listen("tcp", c.MetricsAddr)
		if err != nil {
			ln.Close()
			return roster.Errorf(roster.EINVALID, "cannot listen on %s: %v", c.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		servers = append(servers, ms)
		metricsAt = mln.Addr().String()
		fmt.Fprintf(e.stdout, "Metrics: %smetrics\n", openURL(mln.Addr()))
		go func() { errc <- ms.Serve(mln) }()
	}
	fmt.Fprintf(e.stdout, "Roster is running. Open %s in your browser (Ctrl+C stops it).\n", openURL(ln.Addr()))
	logger.Info("serving", "addr", ln.Addr().String(), "metrics", metricsAt, "metrics_token", c.MetricsToken != "",
		"store", storeKind(c.DB), "upload_ttl", c.UploadTTL.String())

	runner := &jobs.Runner{Locker: locker, Runs: store, Logger: logger, OnRun: jm.observe}
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		_ = runner.Run(ctx, cleanupJob(store, logger, c, jm))
	}()

	go func() { errc <- hs.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
		stop()
	case <-ctx.Done():
	}

	logger.Info("shutting down", "grace", c.ShutdownTimeout.String())
	srv.BeginShutdown()
	if c.ShutdownDelay > 0 && serveErr == nil {
		// Still serving, with /readyz at 503, until the balancer has seen it; a second
		// signal cuts the wait.
		logger.Info("draining: /readyz answers 503 before the listener closes", "delay", c.ShutdownDelay.String())
		again := make(chan os.Signal, 1)
		signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
		select {
		case <-time.After(c.ShutdownDelay):
		case <-again:
		case serveErr = <-errc:
		}
		signal.Stop(again)
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("requests still running at the end of the grace period: closing their connections (commits run on)", "err", err)
		hs.Close()
	}
	if err := srv.Wait(context.Background()); err != nil {
		logger.Error("waiting for commits", "err", err)
	}
	for _, s := range servers[1:] {
		s.Close()
	}
	<-jobsDone
	// Closing the pool waits for the connections in use: with a database that stopped
	// answering, that is as long as the network takes to give up on them. The process
	// exits after storeCloseTimeout whatever the store does.
	storeOpen = false
	closed := make(chan error, 1)
	go func() { closed <- store.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			logger.Warn("closing the store", "err", err)
		}
	case <-time.After(storeCloseTimeout):
		logger.Warn("the store's connections did not close in time (the database is not answering): exiting without them",
			"timeout", storeCloseTimeout.String())
	}
	logger.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// storeCloseTimeout bounds the wait for the store's connections at the end of a shutdown.
const storeCloseTimeout = 10 * time.Second

func storeKind(url string) string {
	if strings.HasPrefix(url, "sqlite:") {
		return "sqlite"
	}
	return "postgres"
}

// openURL is the address a person types: localhost for a wildcard listener.
func openURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}

// cleanupJob removes the uploads nobody committed within --upload-ttl. It runs on one
// instance at a time (jobs.Runner); the delete is one statement, so a run cut short by a
// shutdown leaves nothing half done.
func cleanupJob(store roster.Store, logger *slog.Logger, c *serveConfig, jm *jobMetrics) jobs.Job {
	return jobs.Job{Name: "cleanup-uploads", Every: c.CleanupEvery, Run: func(ctx context.Context) error {
		n, err := store.DeleteUploadsBefore(ctx, time.Now().Add(-c.UploadTTL))
		if err != nil {
			return err
		}
		jm.uploadsRemoved.Add(float64(n))
		if n > 0 {
			logger.Info("removed abandoned uploads", "count", n, "older_than", c.UploadTTL.String())
		}
		return nil
	}}
}

// poolFileWorkers returns how many files the instance may read at once (--file-workers,
// by default the CPUs and at least 2), fitted to a PostgreSQL store's pool. Each file
// being validated or committed holds one pooled connection (its transaction, or its scan
// of the stored learners) and needs a second one now and then to read its next chunk; the
// instance that runs the periodic jobs holds one for their lock. A pool smaller than the
// files plus two could be taken whole by files waiting for a second connection, each
// waiting for the others: an explicit --file-workers is then refused, the default is
// lowered to fit.
func poolFileWorkers(store roster.Store, fileWorkers int, logger *slog.Logger) (int, error) {
	explicit := fileWorkers > 0
	if !explicit {
		fileWorkers = max(2, runtime.GOMAXPROCS(0))
	}
	p, ok := store.(interface{ Pool() *pgxpool.Pool })
	if !ok {
		return fileWorkers, nil
	}
	conns := int(p.Pool().Config().MaxConns)
	switch {
	case conns < 3:
		return 0, usagef("the PostgreSQL pool needs at least 3 connections (--db-max-conns or pool_max_conns), got %d", conns)
	case conns >= fileWorkers+2:
		return fileWorkers, nil
	case explicit:
		return 0, usagef("--file-workers %d needs a PostgreSQL pool of at least %d connections (--db-max-conns or pool_max_conns), got %d",
			fileWorkers, fileWorkers+2, conns)
	}
	logger.Info("fewer files read at once, to fit the database pool", "file_workers", conns-2, "db_max_conns", conns)
	return conns - 2, nil
}
