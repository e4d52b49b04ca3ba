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
	"os/signal"
	"syscall"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
	"github.com/roster-dev/roster/internal/web"
)

// runServe runs the web app and the API on store until SIGINT or SIGTERM, then drains
// the requests in flight (up to 30 s) before returning.
func runServe(ctx context.Context, store roster.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8080", "address to listen on")
	secure := fs.Bool("secure-cookies", false, "mark cookies Secure (set it when Roster is served over HTTPS)")
	maxMB := fs.Int64("max-upload-mb", importer.DefaultMaxBytes>>20, "largest learner file accepted, in MiB")
	maxRows := fs.Int("max-rows", importer.DefaultMaxRows, "most data rows in one learner file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments, got %q", fs.Args())
	}
	if *maxMB < 1 || *maxRows < 1 {
		return usagef("--max-upload-mb and --max-rows must be positive")
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := web.New(web.Config{
		Store: store, Logger: logger, Now: time.Now, SecureCookies: *secure,
		Limits: importer.Limits{MaxBytes: *maxMB << 20, MaxRows: *maxRows},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return roster.Errorf(roster.EINVALID, "cannot listen on %s: %v", *addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No ReadTimeout/WriteTimeout: a large upload or export may take minutes.
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	fmt.Fprintf(stdout, "Roster is running. Open %s in your browser (Ctrl+C stops it).\n", openURL(ln.Addr()))

	go cleanUploads(ctx, store, logger)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
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

// cleanUploads removes uploads abandoned for a day (never committed), every hour.
func cleanUploads(ctx context.Context, store roster.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := store.DeleteUploadsBefore(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			logger.Error("cleaning uploads", "err", err)
		} else if n > 0 {
			logger.Info("removed abandoned uploads", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
