// Package rows holds the small interface between the import pipeline and the readers of
// each file format (CSV, XLSX): a stream of records numbered as a spreadsheet shows them.
package rows

// Record is one row of a file. The header is row 1, the first data record row 2; a quoted
// cell with line breaks inside stays one record, and rows with no cells still take their
// number. Cells are the raw strings as read (decoded to UTF-8 where the format says how;
// a CSV reader leaves bytes that are not valid UTF-8 as they are, and the pipeline reads
// those cells as Windows-1252).
type Record struct {
	Row   int
	Cells []string
	// Malformed is non-empty when the record could not be read (broken quoting): a short
	// explanation for the user. Cells may then hold whatever was salvaged.
	Malformed string
}

// Reader yields the records of one file, header first. Next returns io.EOF after the last
// record. Any other error stops the reading (an I/O error, a file that is not what it
// claimed to be). The Cells slice may be reused by the next call.
type Reader interface {
	Next() (Record, error)
}
