package main

import "context"

// serve runs the web server (serve.go), which parses its flags, opens the store with the
// options only it has (statement timeout, pool size) and owns the shutdown.
func serve(ctx context.Context, e *env, args []string) error {
	return runServe(ctx, e, args)
}
