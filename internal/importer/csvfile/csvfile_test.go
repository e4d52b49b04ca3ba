package csvfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"

	"github.com/roster-dev/roster/internal/importer/rows"
)

// rec is the expected form of a record in the tables: cells nil means an empty line.
type rec struct {
	row       int
	cells     []string
	malformed string
}

// readAll reads every record, copying the cells (the reader reuses the slice).
func readAll(t testing.TB, c *Reader) []rec {
	t.Helper()
	var got []rec
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("Next does not terminate")
		}
		r, err := c.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		var cells []string
		if len(r.Cells) > 0 {
			cells = append([]string(nil), r.Cells...)
		}
		got = append(got, rec{r.Row, cells, r.Malformed})
	}
}

func utf16Bytes(s string, order binary.ByteOrder) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, order, uint16(0xFEFF))
	for _, u := range utf16.Encode([]rune(s)) {
		_ = binary.Write(&b, order, u)
	}
	return b.Bytes()
}

func TestReader(t *testing.T) {
	latin1 := "first_name,last_name\nJos\xe9,M\xfcller\n"
	tests := []struct {
		name  string
		in    string
		delim rune
		enc   string
		want  []rec
	}{
		{
			name: "empty input", in: "", delim: ',', enc: UTF8, want: nil,
		},
		{
			name: "comma LF", in: "a,b\n1,2\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"1", "2"}, ""}},
		},
		{
			name: "semicolon CRLF", in: "a;b\r\n1;2\r\n", delim: ';', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"1", "2"}, ""}},
		},
		{
			name: "tab without final line break", in: "a\tb\tc\n1\t2\t3", delim: '\t', enc: UTF8,
			want: []rec{{1, []string{"a", "b", "c"}, ""}, {2, []string{"1", "2", "3"}, ""}},
		},
		{
			name: "pipe", in: "a|b\n1|2,5\n", delim: '|', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"1", "2,5"}, ""}},
		},
		{
			name: "delimiters inside quotes do not count", in: "\"a;b;c\",d\n1,2\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a;b;c", "d"}, ""}, {2, []string{"1", "2"}, ""}},
		},
		{
			name: "tie goes to comma", in: "a;b\tc\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a;b\tc"}, ""}},
		},
		{
			// The header is the first line that is not blank: the delimiter was once
			// sniffed from the empty line before it (comma), and the header read as one
			// column.
			name: "blank lines before the header", in: "\n \r\n;;\na;b\r\n1;2\n", delim: ';', enc: UTF8,
			want: []rec{{1, nil, ""}, {2, []string{" "}, ""}, {3, []string{"", "", ""}, ""}, {4, []string{"a", "b"}, ""}, {5, []string{"1", "2"}, ""}},
		},
		{
			name: "single column", in: "email\nx@y.com\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"email"}, ""}, {2, []string{"x@y.com"}, ""}},
		},
		{
			name: "old Mac CR", in: "a,b\r1,2\r3,4", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"1", "2"}, ""}, {3, []string{"3", "4"}, ""}},
		},
		{
			name: "old Mac CR with a quoted CR and an empty line", in: "a,b\r\"x\ry\",2\r\r3,4\r", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"x\ny", "2"}, ""}, {3, nil, ""}, {4, []string{"3", "4"}, ""}},
		},
		{
			name: "lone CR is text when the file uses LF", in: "a,b\n1\r2,3\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"1\r2", "3"}, ""}},
		},
		{
			name: "UTF-8 BOM dropped", in: "\xEF\xBB\xBFemail;name\nx@y.com;Zo\u00eb\n", delim: ';', enc: UTF8BOM,
			want: []rec{{1, []string{"email", "name"}, ""}, {2, []string{"x@y.com", "Zo\u00eb"}, ""}},
		},
		{
			name: "UTF-16LE", in: string(utf16Bytes("email\tname\r\nx@y.com\tJos\u00e9 \U0001F600\r\n", binary.LittleEndian)),
			delim: '\t', enc: UTF16LE,
			want: []rec{{1, []string{"email", "name"}, ""}, {2, []string{"x@y.com", "Jos\u00e9 \U0001F600"}, ""}},
		},
		{
			name: "UTF-16BE", in: string(utf16Bytes("email,name\nx@y.com,\u674e\n", binary.BigEndian)),
			delim: ',', enc: UTF16BE,
			want: []rec{{1, []string{"email", "name"}, ""}, {2, []string{"x@y.com", "\u674e"}, ""}},
		},
		{
			name: "invalid UTF-8 passed through", in: latin1, delim: ',', enc: UTF8,
			want: []rec{{1, []string{"first_name", "last_name"}, ""}, {2, []string{"Jos\xe9", "M\xfcller"}, ""}},
		},
		{
			name: "quoted line breaks are one row", in: "a,b\r\n\"line1\r\nline2\nline3\",x\r\n1,2\r\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"line1\nline2\nline3", "x"}, ""}, {3, []string{"1", "2"}, ""}},
		},
		{
			name: "escaped quotes and delimiters in quotes", in: "a,b\n\"say \"\"hi\"\"\",\"x,y\"\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{`say "hi"`, "x,y"}, ""}},
		},
		{
			name: "empty lines take their number", in: "\na,b\n\n\n1,2\r\n\r\n3,4\n", delim: ',', enc: UTF8,
			want: []rec{{1, nil, ""}, {2, []string{"a", "b"}, ""}, {3, nil, ""}, {4, nil, ""}, {5, []string{"1", "2"}, ""}, {6, nil, ""}, {7, []string{"3", "4"}, ""}},
		},
		{
			name: "fewer and more cells, empty cells", in: "a,b,c\n1\n1,2,3,4\n,,\n\"\"\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b", "c"}, ""}, {2, []string{"1"}, ""}, {3, []string{"1", "2", "3", "4"}, ""}, {4, []string{"", "", ""}, ""}, {5, []string{""}, ""}},
		},
		{
			name: "bare quote in an unquoted cell, reading continues", in: "a,b\nO\"Brien,x\n1,2\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{`O"Brien`, "x"}, msgBareQuote}, {3, []string{"1", "2"}, ""}},
		},
		{
			name: "quote not doubled inside a quoted cell", in: "a,b\n\"Bob \"the builder\" Smith\",x\n1,2\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{`Bob "the builder" Smith"`, "x"}, msgStrayQuote}, {3, []string{"1", "2"}, ""}},
		},
		{
			name: "text after a closing quote across lines", in: "a,b\n\"x\ny\"z,1\n2,3\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"x\ny\"z", "1"}, msgStrayQuote}, {3, []string{"2", "3"}, ""}},
		},
		{
			name: "quoted cell never closed", in: "a,b\n1,2\n\"open,3\n4,5\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"1", "2"}, ""}, {3, []string{"open,3\n4,5\n"}, msgNeverClosed}},
		},
		{
			name: "quote closed at the end of the file", in: "a\n\"x\"", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a"}, ""}, {2, []string{"x"}, ""}},
		},
		{
			name: "trailing comma", in: "a,\n", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", ""}, ""}},
		},
		{
			name: "CR at the end of the file", in: "a,b\n1,2\r", delim: ',', enc: UTF8,
			want: []rec{{1, []string{"a", "b"}, ""}, {2, []string{"1", "2"}, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time too, to cross every buffer boundary (CR then LF included).
			for _, slow := range []bool{false, true} {
				var in io.Reader = strings.NewReader(tt.in)
				if slow {
					in = iotest.OneByteReader(in)
				}
				c, err := New(in)
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				got := readAll(t, c)
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("slow=%v records\n got %+v\nwant %+v", slow, got, tt.want)
				}
				if c.Delimiter() != tt.delim {
					t.Errorf("Delimiter = %q, want %q", c.Delimiter(), tt.delim)
				}
				if c.Encoding() != tt.enc {
					t.Errorf("Encoding = %q, want %q", c.Encoding(), tt.enc)
				}
			}
		})
	}
}

// A record whose quote never closes must not pull the rest of a large file into memory,
// and it still ends where the grammar says.
func TestRowTooLong(t *testing.T) {
	big := strings.Repeat("x", MaxRowBytes+10)
	in := "a,b\n" + big + ",1\n2,3\n"
	c, err := New(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, c)
	if len(got) != 3 || got[1].row != 2 || got[1].malformed != msgTooLong || len(got[1].cells[0]) != MaxRowBytes ||
		got[2].row != 3 || !reflect.DeepEqual(got[2].cells, []string{"2", "3"}) {
		t.Fatalf("got %d records: %v / %v", len(got), got[1].malformed, got[len(got)-1])
	}

	// A never-closed quote early in a long file: one record, bounded.
	var b strings.Builder
	b.WriteString("a,b\n\"open\n")
	for i := 0; i < 200_000; i++ {
		fmt.Fprintf(&b, "row%d,x\n", i)
	}
	c, err = New(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	got = readAll(t, c)
	if len(got) != 2 || got[1].malformed != msgNeverClosed || len(got[1].cells[0]) > MaxRowBytes {
		t.Fatalf("got %d records, last %q", len(got), got[len(got)-1].malformed)
	}

	cells := strings.Repeat(",", MaxCells+5)
	c, err = New(strings.NewReader("a\n" + cells + "\nz\n"))
	if err != nil {
		t.Fatal(err)
	}
	got = readAll(t, c)
	if len(got) != 3 || got[1].malformed != msgTooMany || len(got[1].cells) != MaxCells || got[2].row != 3 {
		t.Fatalf("too many cells: %d records, %q, %d cells", len(got), got[1].malformed, len(got[1].cells))
	}
}

// Records cross the 1 MiB buffer many times in a long file; numbering stays right.
func TestLongFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("first_name;last_name;employee_email\r\n")
	for i := 0; i < 100_000; i++ {
		if i%1000 == 0 {
			fmt.Fprintf(&b, "\"multi\r\nline %d\";x;y\r\n\r\n", i)
			continue
		}
		fmt.Fprintf(&b, "Jane%d;\"Doe; Jr\";jane%d@acme.com\r\n", i, i)
	}
	c, err := New(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	row := 1
	for i := -1; i < 100_000; i++ {
		r, err := c.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if r.Row != row || r.Malformed != "" || len(r.Cells) != 3 {
			t.Fatalf("record %d: row %d (want %d), %q %q", i, r.Row, row, r.Cells, r.Malformed)
		}
		if i >= 0 && i%1000 == 0 {
			if r.Cells[0] != fmt.Sprintf("multi\nline %d", i) {
				t.Fatalf("cell %q", r.Cells[0])
			}
			row++
			if r, err = c.Next(); err != nil || r.Row != row || len(r.Cells) != 0 {
				t.Fatalf("empty line: row %d (want %d), %q, %v", r.Row, row, r.Cells, err)
			}
		} else if i >= 0 && r.Cells[1] != "Doe; Jr" {
			t.Fatalf("cell %q", r.Cells[1])
		}
		row++
	}
	if _, err := c.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v", err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	// Fails in New: nothing read yet.
	if _, err := New(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Fatalf("New: %v", err)
	}
	// Fails after the first buffer: Next returns the error as it is.
	in := io.MultiReader(strings.NewReader("a,b\n"+strings.Repeat("1,2\n", bufSize/4+10)), iotest.ErrReader(boom))
	c, err := New(in)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.Next()
		if err == nil {
			continue
		}
		if !errors.Is(err, boom) {
			t.Fatalf("Next: %v", err)
		}
		break
	}
}

var _ rows.Reader = (*Reader)(nil)
