// Package csvfile reads a CSV file as a stream of spreadsheet-numbered records for the
// import pipeline: it recognises the encoding (UTF-8 with or without BOM, UTF-16 with
// BOM), sniffs the delimiter from the header line, accepts LF, CRLF and old-Mac CR line
// endings, and reports broken quoting per record instead of giving up on the file.
package csvfile

import (
	"bytes"
	"io"

	"github.com/roster-dev/roster/internal/importer/rows"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// The parser is hand-written rather than built on encoding/csv because the import rules
// need what encoding/csv hides: it skips empty lines (rows must keep their spreadsheet
// number), it cannot tell a never-closed quote from a stray one, it reads a whole line or
// a runaway quoted cell into memory however long it is, and it knows only LF and CRLF.
// The grammar is still RFC 4180, and the fuzz test checks it against encoding/csv.

const (
	// bufSize is the read buffer; the header line is sniffed from its first fill.
	bufSize = 1 << 20
	// MaxRowBytes bounds the cell bytes kept for one record, so a never-closed quote in a
	// 256 MiB file cannot pull the rest of the file into memory. A longer row is still
	// parsed to its end (the following rows keep their numbers) but comes back Malformed.
	MaxRowBytes = 1 << 20
	// MaxCells bounds the cells kept for one record (Excel's column limit).
	MaxCells = 16384
)

// Messages put in rows.Record.Malformed.
const (
	msgBareQuote   = `a quote (") in an unquoted cell`
	msgStrayQuote  = `a quote (") inside a quoted cell is not doubled`
	msgNeverClosed = `a quoted cell is never closed`
	msgTooLong     = `the row is longer than 1 MiB`
	msgTooMany     = `the row has more than 16384 cells`
)

// Encodings reported by Reader.Encoding.
const (
	UTF8    = "utf-8"
	UTF8BOM = "utf-8-bom"
	UTF16LE = "utf-16le"
	UTF16BE = "utf-16be"
)

// Reader yields the records of a CSV stream. It implements rows.Reader.
type Reader struct {
	src   io.Reader
	buf   []byte
	r, w  int   // buf[r:w] is read but not yet parsed
	err   error // sticky error of src (io.EOF at the end)
	zeros int   // consecutive empty reads, to stop a reader that never progresses

	delim byte
	mac   bool // lone CR is a line break
	enc   string

	special [256]bool // bytes that end an unquoted run: the delimiter, quote, CR, LF

	nextRow int      // row number of the next record: records and empty lines so far, plus one
	data    []byte   // cell bytes of the current record
	ends    []int    // end offset in data of each cell
	tooLong bool     // the record passed MaxRowBytes
	tooMany bool     // the record passed MaxCells
	cells   []string // reused between records
}

var _ rows.Reader = (*Reader)(nil)

// New reads the start of r (up to 1 MiB) to recognise the encoding, the delimiter and the
// line endings. Only an I/O error from r makes it fail; an empty r gives a Reader whose
// first Next returns io.EOF.
func New(r io.Reader) (*Reader, error) {
	c := &Reader{src: r, buf: make([]byte, bufSize), nextRow: 1, enc: UTF8, delim: ','}
	n, err := io.ReadFull(r, c.buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		c.err = io.EOF
	case err != nil:
		return nil, err
	}
	c.w = n
	head := c.buf[:n]
	switch {
	case len(head) >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF:
		c.enc, c.r = UTF8BOM, 3
	case len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE:
		c.enc = UTF16LE
	case len(head) >= 2 && head[0] == 0xFE && head[1] == 0xFF:
		c.enc = UTF16BE
	}
	if c.enc == UTF16LE || c.enc == UTF16BE {
		order := unicode.LittleEndian
		if c.enc == UTF16BE {
			order = unicode.BigEndian
		}
		// Re-read what was buffered through the decoder, which drops the BOM.
		var in io.Reader = bytes.NewReader(append([]byte(nil), head...))
		if c.err == nil {
			in = io.MultiReader(in, r)
		}
		dec := unicode.UTF16(order, unicode.ExpectBOM).NewDecoder()
		c.src = transform.NewReader(in, dec)
		c.r, c.w, c.err = 0, 0, nil
		n, err := io.ReadFull(c.src, c.buf)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			c.err = io.EOF
		case err != nil:
			return nil, err
		}
		c.w = n
	}
	c.sniff(c.buf[c.r:c.w])
	for _, b := range []byte{c.delim, '"', '\n', '\r'} {
		c.special[b] = true
	}
	return c, nil
}

// Delimiter is the delimiter sniffed from the header line: ',', ';', '\t' or '|'.
func (c *Reader) Delimiter() rune { return rune(c.delim) }

// Encoding is how the bytes were decoded: "utf-8", "utf-8-bom", "utf-16le" or "utf-16be".
// "utf-8" also covers files that are not valid UTF-8; their bytes are passed through.
func (c *Reader) Encoding() string { return c.enc }

// sniff picks the delimiter that occurs most outside quotes on the header line, the first
// line with something other than blanks and delimiters (ties and none: comma), and switches to old-Mac line endings when the file's first line break is a
// lone CR.
func (c *Reader) sniff(b []byte) {
	for i, ch := range b {
		if ch == '\n' {
			break
		}
		if ch == '\r' {
			// A CR at the very end of the buffer with more to come stays undecided: LF wins.
			c.mac = (i+1 < len(b) && b[i+1] != '\n') || (i+1 == len(b) && c.err != nil)
			break
		}
	}
	cands := [...]byte{',', ';', '\t', '|'}
	var counts [len(cands)]int
	inQuote, content := false, false
scan:
	for _, ch := range b {
		switch ch {
		case '"':
			inQuote = !inQuote
		case '\n', '\r':
			if inQuote {
				content = true
				break
			}
			if content {
				break scan
			}
			// A blank line (or one of delimiters only) before the header: the importer
			// skips it, and so does the count.
			counts = [len(cands)]int{}
		default:
			if inQuote {
				content = true
				break
			}
			found := false
			for k, d := range cands {
				if ch == d {
					counts[k]++
					found = true
				}
			}
			if !found && ch != ' ' {
				content = true
			}
		}
	}
	best, tie := 0, false
	for k := 1; k < len(cands); k++ {
		switch {
		case counts[k] > counts[best]:
			best, tie = k, false
		case counts[k] == counts[best]:
			tie = true
		}
	}
	if counts[best] > 0 && !tie {
		c.delim = cands[best]
	}
}

// more makes at least one more byte available after buf[r:w], keeping the unread bytes
// (the parser leaves at most a CR waiting for its LF). It reports false at the end of the
// input or on a read error (kept in c.err).
func (c *Reader) more() bool {
	if c.err != nil {
		return false
	}
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	for {
		n, err := c.src.Read(c.buf[c.w:])
		c.w += n
		if err != nil {
			c.err = err
		}
		if n > 0 {
			c.zeros = 0
			return true
		}
		if err != nil {
			return false
		}
		if c.zeros++; c.zeros > 100 {
			c.err = io.ErrNoProgress
			return false
		}
	}
}

// Parser states inside a record.
const (
	stFieldStart = iota // at the start of a cell
	stUnquoted          // inside an unquoted cell
	stQuoted            // inside a quoted cell
	stQuote             // just after a quote inside a quoted cell: "" or the closing quote
)

// specialQuoted marks the bytes that end a run of text inside a quoted cell.
var specialQuoted = [256]bool{'"': true, '\n': true, '\r': true}

// Next returns the next record. An empty line comes back as a record with no cells, so
// that the rows after it keep the number a spreadsheet shows. Next returns io.EOF after
// the last record, and any read error of the underlying reader as it is.
func (c *Reader) Next() (rows.Record, error) {
	c.data = c.data[:0]
	c.ends = c.ends[:0]
	row := c.nextRow
	malformed := ""
	c.tooLong, c.tooMany = false, false
	started := false // a byte other than the line break belongs to this record
	state := stFieldStart
	delim := c.delim
	special := &c.special
	for {
		if c.r >= c.w && !c.more() {
			break
		}
		b := c.buf[c.r:c.w]
		switch state {
		case stFieldStart:
			if b[0] == '"' {
				c.r++
				started = true
				state = stQuoted
				continue
			}
			state = stUnquoted
			fallthrough
		case stUnquoted:
			i := 0
			for i < len(b) && !special[b[i]] {
				i++
			}
			if i > 0 {
				started = true
				c.keep(b[:i])
				c.r += i
			}
			if i == len(b) {
				continue
			}
			switch ch := b[i]; {
			case ch == delim:
				c.r++
				started = true
				c.endCell()
				state = stFieldStart
			case ch == '"':
				// Kept as text, so the row's other cells are still read.
				c.r++
				started = true
				if malformed == "" {
					malformed = msgBareQuote
				}
				c.keep(b[i : i+1])
			default: // '\n' or '\r'
				brk, ok := c.lineBreak(b[i:])
				if !ok {
					continue // a CR at the end of the buffer: more() fetched what follows
				}
				if brk == 0 { // a lone CR that is not a line break is text
					c.r++
					started = true
					c.keep(b[i : i+1])
					continue
				}
				c.r += brk
				c.nextRow++
				return c.record(row, started, malformed), nil
			}
		case stQuoted:
			i := 0
			for i < len(b) && !specialQuoted[b[i]] {
				i++
			}
			c.keep(b[:i])
			c.r += i
			if i == len(b) {
				continue
			}
			if b[i] == '"' {
				c.r++
				state = stQuote
				continue
			}
			brk, ok := c.lineBreak(b[i:])
			if !ok {
				continue
			}
			if brk == 0 {
				c.r++
				c.keep(b[i : i+1])
				continue
			}
			// A line break inside the cell is kept as LF; the record stays one row.
			c.r += brk
			c.keep([]byte{'\n'})
		case stQuote:
			switch ch := b[0]; {
			case ch == '"':
				c.r++
				c.keep(b[:1])
				state = stQuoted
			case ch == delim:
				c.r++
				c.endCell()
				state = stFieldStart
			case ch == '\n' || ch == '\r':
				brk, ok := c.lineBreak(b)
				if !ok {
					continue
				}
				if brk == 0 {
					// Text after the closing quote: handled like any other stray text.
					state = stUnquoted
					if malformed == "" {
						malformed = msgStrayQuote
					}
					c.keep([]byte{'"'})
					continue
				}
				c.r += brk
				c.nextRow++
				return c.record(row, started, malformed), nil
			default:
				// `"Bob "the builder""`: keep the quote as text and read the rest of the
				// cell as unquoted, so the record ends at this line and the next record is
				// read from a known state.
				if malformed == "" {
					malformed = msgStrayQuote
				}
				c.keep([]byte{'"'})
				state = stUnquoted
			}
		}
	}
	// End of the input.
	if c.err != io.EOF {
		return rows.Record{}, c.err
	}
	if !started {
		return rows.Record{}, io.EOF
	}
	if state == stQuoted {
		malformed = msgNeverClosed
	}
	rec := c.record(row, true, malformed)
	// The next call must not read a record that starts on the same line.
	c.nextRow++
	return rec, nil
}

// lineBreak reports the length of the line break at the start of b (which starts with
// '\n' or '\r'): 1 for LF or a lone CR in old-Mac mode, 2 for CRLF, 0 for a lone CR that
// is text. ok is false when b is a lone CR at the end of the buffer and more input came
// in: the caller must look again.
func (c *Reader) lineBreak(b []byte) (n int, ok bool) {
	if b[0] == '\n' {
		return 1, true
	}
	if len(b) > 1 {
		switch {
		case b[1] == '\n':
			return 2, true
		case c.mac:
			return 1, true
		default:
			return 0, true
		}
	}
	if c.more() {
		return 0, false
	}
	// A CR as the last byte of the file ends the line, as encoding/csv does.
	return 1, true
}

// keep appends cell bytes, up to MaxRowBytes for the record.
func (c *Reader) keep(b []byte) {
	if len(c.data)+len(b) > MaxRowBytes {
		b = b[:MaxRowBytes-len(c.data)]
		c.tooLong = true
	}
	c.data = append(c.data, b...)
}

// endCell closes the current cell, up to MaxCells for the record.
func (c *Reader) endCell() {
	if len(c.ends) >= MaxCells {
		c.tooMany = true
		return
	}
	c.ends = append(c.ends, len(c.data))
}

// record builds the record read so far; started is false for an empty line.
func (c *Reader) record(row int, started bool, malformed string) rows.Record {
	if !started {
		return rows.Record{Row: row, Cells: c.cells[:0]}
	}
	c.endCell()
	switch {
	case malformed != "":
	case c.tooLong:
		malformed = msgTooLong
	case c.tooMany:
		malformed = msgTooMany
	}
	// One string per record, sliced into cells: a single allocation.
	s := string(c.data)
	c.cells = c.cells[:0]
	prev := 0
	for _, e := range c.ends {
		c.cells = append(c.cells, s[prev:e])
		prev = e
	}
	return rows.Record{Row: row, Cells: c.cells, Malformed: malformed}
}
