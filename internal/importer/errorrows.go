package importer

import (
	"context"
	"encoding/csv"
	"io"
	"iter"
	"strconv"
	"strings"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/csvsafe"
)

// WriteErrorRows writes the rows of a file that have errors, as the file had them (cells
// decoded to UTF-8), each followed by its spreadsheet row number and a column listing its
// problems, so that an admin can fix them in a spreadsheet. The header row comes first,
// with the two extra columns (an upload of the fixed file ignores them with a warning).
// errs must come sorted by row, as the stores return them; the file is read again, as a
// stream, and joined with them row by row. Every cell is made safe to open in a
// spreadsheet.
func WriteErrorRows(ctx context.Context, w io.Writer, in Input, limits Limits, errs iter.Seq[roster.RowError]) error {
	maxBytes := limits.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	src, ferr, err := open(&limitedReader{r: in.R, max: maxBytes}, maxBytes)
	if err != nil {
		return err
	}
	if ferr != nil {
		return roster.Errorf(roster.EINVALID, "the file cannot be read again: %s", ferr.code)
	}
	defer src.close()
	next, stop := iter.Pull(errs)
	defer stop()
	pending, more := next()

	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	header := true
	var out []string
	for n := 0; ; n++ {
		if n%1000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := src.rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if _, _, content := contentError(err); content {
				break // the rest of the file was a file error; what was read is written
			}
			return err
		}
		if blank(rec.Cells) {
			continue
		}
		out = out[:0]
		for _, c := range rec.Cells {
			v, _ := normalise(c)
			out = append(out, csvsafe.Cell(v))
		}
		if header {
			header = false
			if err := cw.Write(append(out, "source_row", "errors")); err != nil {
				return err
			}
			continue
		}
		for more && pending.Row < rec.Row {
			pending, more = next()
		}
		var problems []string
		for more && pending.Row == rec.Row {
			p := pending.Message
			if pending.Column != "" {
				p = pending.Column + ": " + p
			}
			problems = append(problems, p)
			pending, more = next()
		}
		if len(problems) == 0 {
			continue
		}
		if err := cw.Write(append(out, strconv.Itoa(rec.Row), csvsafe.Cell(strings.Join(problems, "; ")))); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
