package importer

import (
	"context"
	"errors"

	"github.com/roster-dev/roster"
)

// errInvalidFile rolls back a transaction whose file turned out to have errors.
var errInvalidFile = errors.New("the file has errors")

func commit(ctx context.Context, store roster.LearnerStore, in Input, env Env, expectVersion int64, createdBy string) (*roster.ImportReport, error) {
	if env.Org == nil {
		return nil, roster.Errorf(roster.EINVALID, "no organization")
	}
	var rep *roster.ImportReport
	batch, err := store.Import(ctx, env.Org.ID, expectVersion, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		e := env
		e.Tx, e.Lookup = tx, nil
		var err error
		rep, err = run(ctx, in, e)
		if err != nil {
			return nil, err
		}
		if !rep.Valid {
			return nil, errInvalidFile
		}
		if rep.Summary.New+rep.Summary.Updated == 0 {
			return nil, nil // nothing to write: no batch
		}
		return &roster.ImportBatch{
			CreatedBy: createdBy,
			FileName:  in.Name,
			SHA256:    rep.File.SHA256,
			Format:    rep.File.Format,
			Rows:      rep.Rows,
			New:       rep.Summary.New,
			Updated:   rep.Summary.Updated,
			Unchanged: rep.Summary.Unchanged,
		}, nil
	})
	if errors.Is(err, errInvalidFile) {
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	// Committed, whether or not there was anything to write (the API says the same of an
	// upload whose rows are all unchanged); only a write makes a batch.
	rep.Committed = true
	if batch != nil {
		rep.BatchID = batch.ID
	}
	return rep, nil
}
