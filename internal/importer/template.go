package importer

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/csvsafe"
)

// Template returns the downloadable template: the header row in the contract's order,
// UTF-8 without BOM, ending in CRLF as spreadsheet programs write it.
func Template() []byte {
	names := make([]string, len(roster.Columns))
	for i, c := range roster.Columns {
		names[i] = c.Name
	}
	return []byte(strings.Join(names, ",") + "\r\n")
}

// WriteErrorsCSV writes errors as CSV (row, column, code, value, message), every cell made
// safe to open in a spreadsheet.
func WriteErrorsCSV(w io.Writer, errs []roster.RowError) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write([]string{"row", "column", "code", "value", "message"}); err != nil {
		return err
	}
	for _, e := range errs {
		if err := cw.Write([]string{strconv.Itoa(e.Row), e.Column, e.Code, csvsafe.Cell(e.Value), csvsafe.Cell(e.Message)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
