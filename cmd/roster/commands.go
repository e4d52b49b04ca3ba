package main

import (
	"context"
	"strings"
)

// serve opens the store and hands it to the web server (serve.go), which parses the rest
// of the flags.
func serve(ctx context.Context, e *env, args []string) error {
	dbFlag, rest := splitDBFlag(args)
	store, err := openStore(ctx, e.dbURL(dbFlag))
	if err != nil {
		return err
	}
	defer store.Close()
	return runServe(ctx, store, rest, e.stdout, e.stderr)
}

// splitDBFlag takes --db (or -db, --db=URL) out of args.
func splitDBFlag(args []string) (db string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "db" {
			rest = append(rest, a)
			continue
		}
		if hasValue {
			db = value
		} else if i+1 < len(args) {
			db = args[i+1]
			i++
		}
	}
	return db, rest
}
