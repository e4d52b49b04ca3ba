package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/roster-dev/roster/internal/importer/csvfile"
	"github.com/roster-dev/roster/internal/importer/rows"
	"github.com/roster-dev/roster/internal/importer/xlsxfile"
)

// errTooLarge is returned by limitedReader once the file passes the byte limit.
var errTooLarge = errors.New("file too large")

// limitedReader counts the bytes read and fails with errTooLarge past max.
type limitedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, errTooLarge
	}
	if rest := l.max + 1 - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, errTooLarge
	}
	return n, err
}

// source is an opened file: its rows and what was learnt about it.
type source struct {
	rows      rows.Reader
	format    string
	csv       *csvfile.Reader
	closeFunc func()
}

func (s *source) close() {
	if s.closeFunc != nil {
		s.closeFunc()
	}
}

// formatError is a file the pipeline cannot read: the code and message of the file error.
type formatError struct {
	code, msg string
}

// open recognises the format from the content (never the name) and opens a reader.
func open(r io.Reader, maxBytes int64) (*source, *formatError, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(8 << 10)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		if errors.Is(err, errTooLarge) {
			return nil, &formatError{"file_too_large", ""}, nil
		}
		return nil, nil, err
	}
	if len(bytes.TrimSpace(head)) == 0 && len(head) < 8<<10 {
		return nil, &formatError{"empty_file", "The file is empty."}, nil
	}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		x, err := xlsxfile.New(br, maxBytes)
		if err != nil {
			if errors.Is(err, errTooLarge) || errors.Is(err, xlsxfile.ErrTooLarge) {
				return nil, &formatError{"file_too_large", ""}, nil
			}
			if errors.Is(err, xlsxfile.ErrDamaged) {
				return nil, &formatError{"unsupported_format", damagedWorkbook + ". Save it again from your spreadsheet program, or export it as CSV."}, nil
			}
			if errors.Is(err, xlsxfile.ErrRowTooLarge) {
				return nil, &formatError{"unsupported_format", fmt.Sprintf("A row or a cell of the workbook is larger than %d MiB, which no row of learners is: "+
					"the workbook cannot be read safely. Check the file, or export it as CSV.", xlsxfile.MaxRowXML>>20)}, nil
			}
			return nil, &formatError{"unsupported_format", "This file is a zip archive but not an Excel workbook (.xlsx). Upload a CSV or XLSX file."}, nil
		}
		return &source{rows: x, format: "xlsx", closeFunc: func() { x.Close() }}, nil, nil
	case bytes.HasPrefix(head, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")):
		return nil, &formatError{"unsupported_format", "This is an old Excel 97-2003 workbook (.xls). Save it as .xlsx or CSV and upload it again."}, nil
	case bytes.HasPrefix(head, []byte("%PDF")):
		return nil, &formatError{"unsupported_format", "This is a PDF document. Upload a CSV or XLSX file."}, nil
	case bytes.HasPrefix(head, []byte("PK")):
		return nil, &formatError{"unsupported_format", "This is a zip archive, not a CSV or XLSX file."}, nil
	case utf16NoBOM(head):
		return nil, &formatError{"unsupported_format", "This file looks like UTF-16 text without a byte order mark, which cannot be read safely. " +
			"Save it again as \"CSV UTF-8\" (or as UTF-16 with its byte order mark) and upload it again."}, nil
	case isBinary(head):
		return nil, &formatError{"unsupported_format", "This file is not a CSV or XLSX file (it looks like a picture or another binary file)."}, nil
	case isMarkup(head):
		return nil, &formatError{"unsupported_format", "This file is an XML or HTML document (an SVG picture, a web page, or a spreadsheet saved as " +
			"\"XML Spreadsheet\"), not a CSV or XLSX file. Save it as .xlsx or CSV and upload it again."}, nil
	}
	c, err := csvfile.New(br)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, &formatError{"file_too_large", ""}, nil
		}
		return nil, nil, err
	}
	return &source{rows: c, format: "csv", csv: c}, nil, nil
}

// utf16NoBOM: text whose every other byte is NUL (ASCII characters written as UTF-16)
// without the byte order mark the contract asks for. Told apart from a binary file, so
// that the message says what to do.
func utf16NoBOM(head []byte) bool {
	if len(head) < 16 || bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return false
	}
	var zeros [2]int
	n := len(head) &^ 1
	for i := 0; i < n; i++ {
		if head[i] == 0 {
			zeros[i&1]++
		}
	}
	half := n / 2
	// Little-endian ASCII: odd bytes NUL, even bytes not; big-endian the other way round.
	return (zeros[1] >= half*9/10 && zeros[0] == 0) || (zeros[0] >= half*9/10 && zeros[1] == 0)
}

// isBinary: NUL bytes (outside UTF-16 text) and the signatures of common pictures.
func isBinary(head []byte) bool {
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return false
	}
	for _, sig := range [][]byte{[]byte("\x89PNG"), {0xFF, 0xD8, 0xFF}, []byte("GIF8"), []byte("RIFF"), []byte("\x1F\x8B"), []byte("7z\xBC\xAF")} {
		if bytes.HasPrefix(head, sig) {
			return true
		}
	}
	return bytes.IndexByte(head, 0) >= 0
}

// isMarkup: text that begins (after a UTF-8 byte order mark and white space) with a tag,
// "<?xml", "<!DOCTYPE", "<svg", "<html": no header row of learners does, and read as CSV
// such a file made a "missing column" error and an "unknown column" warning the size of
// its first line.
func isMarkup(head []byte) bool {
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	if len(t) < 2 || t[0] != '<' {
		return false
	}
	c := t[1] | 0x20
	return t[1] == '?' || t[1] == '!' || ('a' <= c && c <= 'z')
}
