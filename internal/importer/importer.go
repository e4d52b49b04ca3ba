// Package importer is the learner import pipeline shared by every way in (CLI, web, API,
// HRIS): read -> map headers -> normalise -> validate -> compare -> report -> plan. It
// streams rows: memory holds sets of keys for duplicate detection, never the rows. It knows
// nothing of HTTP or SQL; the store is reached through roster.LearnerLookup and
// roster.ImportTx.
package importer

import (
	"context"
	"io"

	"github.com/roster-dev/roster"
)

// Default limits of the contract; both are configurable.
const (
	DefaultMaxBytes = 256 << 20
	DefaultMaxRows  = 1_000_000
)

// Limits bound what one file may hold.
type Limits struct {
	MaxBytes int64 // 0 = DefaultMaxBytes
	MaxRows  int   // 0 = DefaultMaxRows
}

// Env is what a run of the pipeline is checked against and where its results go.
type Env struct {
	Org *roster.Organization
	// Lookup compares the file with the stored learners. With Tx set, Tx is used instead
	// and every change of a valid file is written to it.
	Lookup roster.LearnerLookup
	Tx     roster.ImportTx
	Limits Limits
	// OnError, when set, receives every error and warning (not only the first
	// roster.MaxReportedErrors kept in the report), in no particular order, one call at a
	// time.
	OnError func(e roster.RowError, warning bool)
	// OnChange, when set, receives every row that would write something (for previews),
	// from the comparing goroutine.
	OnChange func(c roster.LearnerChange)
	// Progress, when set, is called now and then with the rows and bytes read so far.
	Progress func(rows int, bytes int64)
}

// Input is the file to read.
type Input struct {
	Name string
	R    io.Reader
}

// Run reads the file, checks every rule of the contract against env.Org and the stored
// learners, and returns the report. Problems of the file are in the report, never in the
// error: the error is only for a cancelled context or a failing store. When env.Tx is set
// and the file turns out invalid, changes may already have been written to the
// transaction: the caller must roll it back (return an error from its ImportFunc).
func Run(ctx context.Context, in Input, env Env) (*roster.ImportReport, error) {
	return run(ctx, in, env)
}

// Commit runs the pipeline inside one import transaction of store and writes the file's
// changes when, and only when, the whole file is valid. With expectVersion >= 0 a commit
// made after the organization's learners moved fails with roster.ESTALE and writes nothing
// (the caller validates again). A valid file that changes nothing records no batch. The
// returned report has Committed and BatchID set when something was written.
func Commit(ctx context.Context, store roster.LearnerStore, in Input, env Env, expectVersion int64, createdBy string) (*roster.ImportReport, error) {
	return commit(ctx, store, in, env, expectVersion, createdBy)
}
