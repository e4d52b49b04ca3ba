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
	width := 0 // the header's cells
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
			// The header's trailing blank cells are no columns (the import ignores them).
			for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
				out = out[:len(out)-1]
			}
			width = len(out)
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
		if err := cw.Write(alignRow(out, width, strconv.Itoa(rec.Row), csvsafe.Cell(strings.Join(problems, "; ")))); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// alignRow puts sourceRow and problems under the header's two extra columns whatever the
// row's width: a short row (an XLSX row ends at its last non-empty cell, a CSV row may stop
// early) is padded with blank cells, a row's trailing blank cells past the header are
// dropped, and non-blank cells past the header (an extra_cells warning) follow the two
// columns, where the admin sees them and the import still counts them as extra.
func alignRow(cells []string, width int, sourceRow, problems string) []string {
	end := len(cells)
	for end > width && strings.TrimSpace(cells[end-1]) == "" {
		end--
	}
	row := make([]string, 0, max(end, width)+2)
	row = append(row, cells[:min(end, width)]...)
	for len(row) < width {
		row = append(row, "")
	}
	row = append(row, sourceRow, problems)
	if end > width {
		row = append(row, cells[width:end]...)
	}
	return row
}
