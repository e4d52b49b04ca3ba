package web

import (
	"context"
	"iter"
	"net/http"
	"strings"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
)

// uploadErrorRowsCSV sends the rows of the upload that have errors, as the file had them,
// with their row number and problems added: the admin fixes them in a spreadsheet. The
// stored file is read again and joined with the stored errors, both as streams.
func (s *Server) uploadErrorRowsCSV(w http.ResponseWriter, r *http.Request) error {
	org := orgOf(r)
	id := r.PathValue("id")
	u, rep, err := s.uploadFor(r, id)
	if err != nil {
		return err
	}
	for _, e := range rep.Errors {
		switch e.Code {
		case roster.CodeUnsupportedFormat, roster.CodeFileTooLarge, roster.CodeEmptyFile:
			// Checked before the headers go: once they have, a failure can only cut the
			// download short (an empty 200, and an error in the log).
			return roster.Errorf(roster.ECONFLICT, "This file could not be read as a table of learners, so it has no rows to download: %s", e.Message)
		}
	}
	rc, err := s.store.OpenUploadFile(r.Context(), org.ID, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	name := strings.TrimSuffix(errorsFileName(u.FileName), "-errors.csv") + "-rows-with-errors.csv"
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	var pageErr error
	err = importer.WriteErrorRows(r.Context(), w, importer.Input{Name: u.FileName, R: rc}, s.cfg.Limits,
		s.uploadErrorsSeq(r.Context(), org.ID, id, &pageErr))
	if err != nil || pageErr != nil {
		// Headers are sent: the download is cut short; say why in the log.
		s.log.Error("rows-with-errors CSV cut short", "upload", id, "err", err, "store_err", pageErr)
	}
	return nil
}

// uploadErrorsSeq yields every stored error of an upload, in report order, a page of the
// store at a time; a failing page ends it and is left in *fail.
func (s *Server) uploadErrorsSeq(ctx context.Context, orgID, id string, fail *error) iter.Seq[roster.RowError] {
	return func(yield func(roster.RowError) bool) {
		const page = 10_000
		for off := 0; ; off += page {
			errs, err := s.store.UploadErrors(ctx, orgID, id, off, page)
			if err != nil {
				*fail = err
				return
			}
			for _, e := range errs {
				if !yield(e) {
					return
				}
			}
			if len(errs) < page {
				return
			}
		}
	}
}
