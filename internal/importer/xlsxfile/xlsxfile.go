// Package xlsxfile reads the first worksheet of an Excel workbook (.xlsx) as a stream of
// records for the import pipeline, with the sheet's own row numbers and the cells' values:
// as stored (an employee id 123456789 stays 123456789, never 1.23E+08), except that a
// format that pads a number with zeros is applied (123 formatted 00000 reads 00123).
package xlsxfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/roster-dev/roster/internal/importer/rows"
	"github.com/xuri/excelize/v2"
)

var (
	// ErrNotWorkbook is returned (wrapped) for a file that is not a readable workbook: not
	// a zip, a zip without a workbook inside, or a broken one. The pipeline reports it as
	// unsupported_format.
	ErrNotWorkbook = errors.New("not an Excel workbook")
	// ErrTooLarge is returned (wrapped) when the file passes maxBytes, or when what the zip
	// holds would take too much room once unpacked (a zip bomb).
	ErrTooLarge = errors.New("the workbook is too large")
	// ErrRowTooLarge is returned (wrapped) for a worksheet row, or a shared string, larger
	// than MaxRowXML: excelize would hold it whole in memory.
	ErrRowTooLarge = errors.New("a row of the workbook is too large")
	// ErrDamaged is returned (wrapped) for a workbook whose sheet or shared strings are not
	// a whole XML document: cut short, not XML, or with a DOCTYPE (which Excel never
	// writes). excelize stops reading such a sheet without an error, which made a damaged
	// file look empty. It wraps ErrNotWorkbook.
	ErrDamaged = fmt.Errorf("%w: the workbook is damaged", ErrNotWorkbook)
)

const (
	// MaxUnzippedBytes bounds the total unpacked size of the workbook's parts. A sheet of
	// a million learner rows is well under 1 GiB of XML.
	MaxUnzippedBytes = 4 << 30
	// MaxInMemoryBytes bounds the unpacked parts excelize keeps in memory: all of them
	// except worksheets and the shared strings over xmlInMemory, which it streams from
	// temporary files.
	MaxInMemoryBytes = 128 << 20
	// xmlInMemory is excelize's UnzipXMLSizeLimit: larger sheets go to temporary files.
	xmlInMemory = 16 << 20
	// MaxRowXML bounds the XML of one worksheet row (<row>...</row>), one shared string
	// (<si>...</si>), and any text or tag between two "<". excelize decodes a row, and a
	// cell's text, whole: without this a 3 MB workbook holding one 3 GiB cell (within
	// MaxUnzippedBytes) took 20 GB of memory. A row of learners is a few hundred bytes;
	// the CSV reader's bound is 1 MiB of cells (escaping can make XML six times larger).
	MaxRowXML = 8 << 20
)

// Reader yields the non-empty rows of the first worksheet. It implements rows.Reader.
// Close releases excelize's temporary files.
type Reader struct {
	f    *excelize.File
	rows *excelize.Rows
	row  int // the sheet row number of the last row read
	err  error
}

var _ rows.Reader = (*Reader)(nil)

// New reads the workbook from r, refusing more than maxBytes (no limit when maxBytes <= 0)
// with ErrTooLarge, and opens its first worksheet. A read error of r is returned wrapped.
//
// The file is copied to a temporary file first so that neither excelize nor the zip
// check holds the whole compressed file in memory; the copy is removed before New returns.
func New(r io.Reader, maxBytes int64) (rd *Reader, err error) {
	tmp, err := os.CreateTemp("", "roster-xlsx-*")
	if err != nil {
		return nil, fmt.Errorf("xlsxfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	src := r
	if maxBytes > 0 {
		src = io.LimitReader(r, maxBytes+1)
	}
	n, err := io.Copy(tmp, src)
	if err != nil {
		return nil, fmt.Errorf("xlsxfile: reading the file: %w", err)
	}
	if maxBytes > 0 && n > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	if err := checkZip(tmp, n); err != nil {
		return nil, err
	}
	// excelize has panicked on crafted files in the past; a bad upload must not crash
	// the server.
	defer func() {
		if p := recover(); p != nil {
			if rd != nil && rd.f != nil {
				_ = rd.f.Close()
			}
			rd, err = nil, fmt.Errorf("%w: %v", ErrNotWorkbook, p)
		}
	}()
	rd = &Reader{}
	rd.f, err = excelize.OpenFile(tmp.Name(), excelize.Options{
		UnzipSizeLimit:    MaxUnzippedBytes,
		UnzipXMLSizeLimit: xmlInMemory,
	})
	if err != nil {
		if rd.f != nil {
			_ = rd.f.Close()
		}
		return nil, fmt.Errorf("%w: %v", ErrNotWorkbook, err)
	}
	keepOnlyPadding(rd.f)
	sheets := rd.f.GetSheetList()
	if len(sheets) == 0 {
		_ = rd.f.Close()
		return nil, fmt.Errorf("%w: no worksheet", ErrNotWorkbook)
	}
	if rd.rows, err = rd.f.Rows(sheets[0]); err != nil {
		_ = rd.f.Close()
		return nil, fmt.Errorf("%w: %v", ErrNotWorkbook, err)
	}
	return rd, nil
}

// keepOnlyPadding drops every number format of the workbook except those that only pad a
// number with zeros, with or without literal text: "00000", "\"E\"00000", "00000\-0000".
// A cell then reads as the sheet shows it when that loses nothing (an employee id 123
// formatted 00000 is 00123 on screen, and in the HRIS), and as its stored value otherwise
// (a scientific format would turn 123456789 into 1.23E+08, a percentage or a thousands
// separator would rewrite it, and excelize's General shows 1234567890123 as
// 1.23456789E+12). excelize reads the style sheet lazily and offers no option for this, so
// its parsed cellXfs are edited in place before any cell is read: a format ID that is
// neither built in nor defined (noFormat) makes excelize return the stored value. A style
// sheet it cannot read leaves every cell as its value.
func keepOnlyPadding(f *excelize.File) {
	if _, err := f.GetStyle(0); err != nil || f.Styles == nil || f.Styles.CellXfs == nil {
		return
	}
	padding := map[int]bool{}
	if f.Styles.NumFmts != nil {
		for _, n := range f.Styles.NumFmts.NumFmt {
			code := n.FormatCode
			if n.FormatCode16 != "" {
				code = n.FormatCode16
			}
			padding[n.NumFmtID] = zeroPadding(code)
		}
	}
	if _, taken := padding[noFormat]; taken {
		return // a workbook defining the sentinel: leave it alone
	}
	for i := range f.Styles.CellXfs.Xf {
		xf := &f.Styles.CellXfs.Xf[i]
		if xf.NumFmtID != nil && padding[*xf.NumFmtID] {
			continue
		}
		none := noFormat
		xf.NumFmtID = &none
	}
}

// noFormat is a number format ID no workbook uses: excelize formats nothing with it.
const noFormat = -1

// zeroPadding reports whether a number format code only pads with zeros: one section of
// "0"s and literal text (quoted, or one character after a backslash).
func zeroPadding(code string) bool {
	zeros := 0
	for i := 0; i < len(code); i++ {
		switch code[i] {
		case '0':
			zeros++
		case '"':
			j := strings.IndexByte(code[i+1:], '"')
			if j < 0 {
				return false
			}
			i += j + 1
		case '\\':
			i++
			if i == len(code) {
				return false
			}
		default:
			return false
		}
	}
	return zeros > 0
}

// checkZip refuses what is not a zip, and a zip whose parts would unpack to more than
// the limits, before excelize unpacks anything. The sizes in the zip's directory can be
// trusted: archive/zip fails a part that unpacks to more than it declares.
func checkZip(f *os.File, size int64) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotWorkbook, err)
	}
	var total, inMemory uint64
	for _, e := range zr.File {
		total += e.UncompressedSize64
		name := strings.ToLower(strings.ReplaceAll(e.Name, `\`, "/"))
		streamed := e.UncompressedSize64 > xmlInMemory &&
			(name == "xl/sharedstrings.xml" || strings.HasPrefix(name, "xl/worksheets/sheet"))
		if !streamed {
			inMemory += e.UncompressedSize64
		}
	}
	if total > MaxUnzippedBytes || inMemory > MaxInMemoryBytes {
		return fmt.Errorf("%w: it unpacks to %d bytes", ErrTooLarge, total)
	}
	for _, e := range zr.File {
		name := strings.ToLower(strings.ReplaceAll(e.Name, `\`, "/"))
		item, root := "", ""
		switch {
		case strings.HasPrefix(name, "xl/worksheets/") && strings.HasSuffix(name, ".xml"):
			item, root = "row", "worksheet"
		case name == "xl/sharedstrings.xml":
			item, root = "si", "sst"
		default:
			continue
		}
		if err := checkItems(e, item, root); err != nil {
			return err
		}
	}
	return nil
}

// checkItems reads a part of the zip through once (before excelize does) and fails when
// an item (a row, a shared string), or what lies between two "<", passes MaxRowXML
// (ErrRowTooLarge), or when the part is not one well-formed XML document whose root
// element is root (ErrDamaged): every tag closed by its own name, in order; no stray "<";
// no DOCTYPE; nesting at most maxDepth deep. excelize stops reading a sheet at its first
// XML error without saying so, and the rows before the damage would be imported as if they
// were the whole file.
//
// Written by hand: no XML library bounds a token's size (encoding/xml, like excelize,
// allocates each token whole), and encoding/xml reads about 50 MB/s, seconds on a large
// sheet; this is a byte scan of the tags' structure, not a full parser (entities and
// attribute names are left to excelize).
func checkItems(e *zip.File, item, root string) error {
	rc, err := e.Open()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotWorkbook, err)
	}
	defer rc.Close()
	const (
		text      = iota // between tags
		tagStart         // just after "<"
		openName         // the name of a start tag
		attrs            // the rest of a start tag
		dquote           // an attribute value in "…"
		squote           // an attribute value in '…'
		closeName        // the name of an end tag
		pi               // <? … ?>
		bang             // <! … > (comments; a DOCTYPE is refused)
	)
	const maxDepth = 64
	var (
		buf       = make([]byte, 256<<10)
		state     = text
		sinceLT   int64 // bytes since the last "<"
		sinceItem int64 // bytes since the last item began
		name      []byte
		selfClose bool
		prev      byte
		stack     []byte // the names of the open elements, one after another
		ends      []int  // where each ends in stack
		rooted    bool   // the root element was opened
		head      []byte // the first bytes, for a DOCTYPE
	)
	damaged := func(why string) error { return fmt.Errorf("%w: %s: %s", ErrDamaged, e.Name, why) }
	itemSuffix, rootSuffix := []byte(":"+item), []byte(":"+root)
	isItem := func(n []byte) bool {
		return string(n) == item || bytes.HasSuffix(n, itemSuffix)
	}
	for {
		n, rerr := rc.Read(buf)
		if len(head) < 1024 {
			head = append(head, buf[:min(n, 1024-len(head))]...)
			if bytes.Contains(head, []byte("<!DOCTYPE")) {
				return damaged("a DOCTYPE")
			}
		}
		for i := 0; i < n; i++ {
			c := buf[i]
			sinceItem++
			if state == text {
				j := bytes.IndexByte(buf[i:n], '<')
				if j < 0 {
					sinceLT += int64(n - i)
					sinceItem += int64(n-i) - 1
					break
				}
				sinceItem += int64(j)
				sinceLT = 0
				i += j
				state = tagStart
				continue
			}
			sinceLT++
			switch state {
			case tagStart:
				switch {
				case c == '/':
					state, name = closeName, name[:0]
				case c == '?':
					state = pi
				case c == '!':
					state = bang
				case c == '_' || c == ':' || c >= 0x80 || ('a' <= c|0x20 && c|0x20 <= 'z'):
					state, name, selfClose = openName, append(name[:0], c), false
				default:
					return damaged(fmt.Sprintf("%q after <", c))
				}
			case openName, attrs:
				switch c {
				case '>':
					if state == openName && isItem(name) {
						sinceItem = 0
					}
					if !selfClose {
						if len(ends) == maxDepth {
							return damaged("nested too deep")
						}
						if len(ends) == 0 {
							if rooted {
								return damaged("a second root element")
							}
							rooted = true
							if string(name) != root && !bytes.HasSuffix(name, rootSuffix) {
								return damaged("the root element is " + string(name))
							}
						}
						stack = append(stack, name...)
						ends = append(ends, len(stack))
					}
					state = text
				case '<':
					return damaged("< inside a tag")
				case '/':
					selfClose = true
					if state == openName {
						if isItem(name) {
							sinceItem = 0
						}
						state = attrs
					}
				case ' ', '\t', '\r', '\n':
					if state == openName && isItem(name) {
						sinceItem = 0
					}
					state = attrs
				case '"', '\'':
					if state == openName {
						return damaged("a quote in an element name")
					}
					state = dquote
					if c == '\'' {
						state = squote
					}
				default:
					if state == openName {
						if len(name) == 256 {
							return damaged("an element name too long")
						}
						name = append(name, c)
					} else {
						selfClose = false // "/" must come right before ">"
					}
				}
			case dquote, squote:
				if c == '<' {
					return damaged("< in an attribute value")
				}
				if (state == dquote && c == '"') || (state == squote && c == '\'') {
					state = attrs
				}
			case closeName:
				switch c {
				case '>':
					start := 0
					if len(ends) > 1 {
						start = ends[len(ends)-2]
					}
					if len(ends) == 0 || !bytes.Equal(stack[start:], bytes.TrimRight(name, " \t\r\n")) {
						return damaged("</" + string(name) + "> closes nothing open")
					}
					stack, ends = stack[:start], ends[:len(ends)-1]
					state = text
				case '<':
					return damaged("< inside a tag")
				default:
					if len(name) == 256 {
						return damaged("an element name too long")
					}
					name = append(name, c)
				}
			case pi:
				if c == '>' && prev == '?' {
					state = text
				}
			case bang:
				if c == '>' {
					state = text
				}
			}
			prev = c
		}
		if sinceLT > MaxRowXML || sinceItem > MaxRowXML {
			return fmt.Errorf("%w: %s (an item <%s> or a token) passes %d MiB", ErrRowTooLarge, e.Name, item, MaxRowXML>>20)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("%w: %v", ErrNotWorkbook, rerr)
		}
	}
	if state != text || len(ends) != 0 || !rooted {
		return damaged("cut short")
	}
	return nil
}

// Next returns the next row that has at least one cell, numbered as the sheet numbers it;
// rows without cells are skipped (their numbers are simply absent). Cells hold the
// values: numbers as stored (no number format applied but zero padding, see
// keepOnlyPadding), booleans as "TRUE" and "FALSE", shared and inline strings as written. Next returns io.EOF after the last row and an error
// wrapping ErrNotWorkbook if the sheet turns out to be broken.
func (x *Reader) Next() (rec rows.Record, err error) {
	if x.err != nil {
		return rows.Record{}, x.err
	}
	defer func() {
		if p := recover(); p != nil {
			x.err = fmt.Errorf("%w: row %d: %v", ErrNotWorkbook, x.row, p)
			rec, err = rows.Record{}, x.err
		}
	}()
	for x.rows.Next() {
		// The iterator visits every row number in turn, gaps included.
		x.row++
		cells, err := x.rows.Columns() // formatted, with only padding formats left (keepOnlyPadding)
		if err != nil {
			x.err = fmt.Errorf("%w: row %d: %v", ErrNotWorkbook, x.row, err)
			return rows.Record{}, x.err
		}
		if len(cells) > 0 {
			return rows.Record{Row: x.row, Cells: cells}, nil
		}
	}
	if err := x.rows.Error(); err != nil {
		x.err = fmt.Errorf("%w: %v", ErrNotWorkbook, err)
		return rows.Record{}, x.err
	}
	x.err = io.EOF
	return rows.Record{}, io.EOF
}

// Close releases the sheet iterator and excelize's temporary files. It may be called more
// than once.
func (x *Reader) Close() error {
	if x.f == nil {
		return nil
	}
	err := x.rows.Close()
	if err != nil && err == x.rows.Error() {
		err = nil // the iteration error, already returned by Next
	}
	if err2 := x.f.Close(); err == nil {
		err = err2
	}
	x.f = nil
	if x.err == nil {
		x.err = errors.New("xlsxfile: reader closed")
	}
	return err
}
