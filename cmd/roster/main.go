// Command roster is the Roster service and its command-line tools: it parses flags and the
// environment, opens the store, and runs one subcommand. It is the only package that knows
// every concrete type.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/roster-dev/roster"
)

const usage = `roster keeps an organization's learner directory.

Usage:
  roster org create --slug acme --name "Acme Corp" --domain acme.com [--domain acme.co.uk]
  roster org list
  roster learners template
  roster learners import --org acme [--dry-run] [--format text|json] FILE|-
  roster learners list --org acme [--format text|json|csv]
  roster admin create --org acme --email admin@acme.com [--name NAME] [--password-stdin]
  roster token create --org acme [--name NAME]
  roster serve [--addr :8080] [--secure-cookies] [--log-format auto|json|text] ...
  roster bench [--rows 100000] [--changed 0.1] [--dir DIR]

'roster serve --help' lists the server's flags (docs/deploy.md describes them all).

Every command takes --db URL (or ROSTER_DB): sqlite:PATH for the embedded store,
postgres://... for PostgreSQL. The default is sqlite:roster.db in the working directory.
`

// exit codes of the contract
const (
	exitOK      = 0
	exitInvalid = 1 // the file has errors
	exitUsage   = 2 // bad arguments, or a path that cannot be opened
)

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says otherwise.
const defaultMemoryLimit = 280 << 20

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitCode carries a specific exit status out of a command that already printed its result.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func main() {
	// A million-row import keeps a few hundred bytes of keys per row alive; with the
	// collector's default pacing the heap would grow to twice that before a collection. A
	// soft limit keeps the whole process under its memory budget (GOMEMLIMIT overrides).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	// Most of what an import keeps alive is pointer-free key maps, cheap for the collector
	// to mark: collecting at half the live heap, not all of it, costs little CPU and keeps
	// the peak down (GOGC overrides).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what every command gets: its streams and the process environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	err := dispatch(ctx, e, args)
	var ue *usageError
	var oe *openError
	var ec exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		return int(ec)
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "roster: %s\n", ue.msg)
		fmt.Fprintf(stderr, "Run 'roster help' for usage.\n")
		return exitUsage
	case errors.As(err, &oe):
		fmt.Fprintf(stderr, "roster: %s\n", oe.msg)
		return exitUsage
	default:
		code := roster.ErrorCode(err)
		if code == roster.EINTERNAL {
			fmt.Fprintf(stderr, "roster: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "roster: %s\n", roster.ErrorMessage(err))
		}
		if code == roster.EINVALID || code == roster.ENOTFOUND || code == roster.ECONFLICT {
			return exitUsage
		}
		return exitInvalid
	}
}

func dispatch(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		sub = rest[0]
	}
	switch cmd + " " + sub {
	case "org create":
		return orgCreate(ctx, e, rest[1:])
	case "org list":
		return orgList(ctx, e, rest[1:])
	case "learners template":
		return learnersTemplate(e, rest[1:])
	case "learners import":
		return learnersImport(ctx, e, rest[1:])
	case "learners list":
		return learnersList(ctx, e, rest[1:])
	case "admin create":
		return adminCreate(ctx, e, rest[1:])
	case "token create":
		return tokenCreate(ctx, e, rest[1:])
	}
	switch cmd {
	case "serve":
		return serve(ctx, e, rest)
	case "bench":
		return benchCmd(ctx, e, rest)
	case "org", "learners", "admin", "token":
		if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help" || rest[0] == "-help" || rest[0] == "help") {
			fmt.Fprint(e.stdout, groupUsage(cmd))
			return nil
		}
		if sub == "" {
			return usagef("%s needs a subcommand: 'roster %s --help' lists them", cmd, cmd)
		}
		return usagef("unknown command %q: 'roster %s --help' lists the %s commands", cmd+" "+sub, cmd, cmd)
	}
	return usagef("unknown command %q", cmd)
}

// groupUsage lists the subcommands of a command group ("org"): the lines of usage that
// start with it.
func groupUsage(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n")
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "  roster "+group+" ") {
			fmt.Fprintln(&b, l)
		}
	}
	fmt.Fprintf(&b, "\n'roster %s SUBCOMMAND --help' lists a subcommand's flags.\n", group)
	return b.String()
}

// noArgs refuses positional arguments where a command takes none: they are typos or
// forgotten flags, never to be ignored.
func noArgs(cmd string, pos []string) error {
	if len(pos) > 0 {
		return usagef("%s takes no argument, but got %q", cmd, pos[0])
	}
	return nil
}

// newFlags makes a flag set for a subcommand, with --db on every one.
func newFlags(e *env, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", "", "store URL: sqlite:PATH or postgres://... (default $ROSTER_DB, else sqlite:roster.db)")
	return fs, db
}

// parse parses flags that may stand before or after the positional arguments
// ("import FILE --org acme" works as well as "import --org acme FILE").
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseFlags is fs.Parse without the flag package's habit of printing every flag's help
// after a bad value: the error comes back (and is printed once, on one line, by the
// caller), and the help is printed only when it was asked for (-h).
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	defer fs.SetOutput(out)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		_, _ = io.Copy(out, &buf)
	}
	return err
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
