package csvfile

import (
	"bytes"
	"encoding/csv"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzReader checks that any input terminates without a panic and with strictly
// increasing row numbers, and that on input the standard library also reads (no BOM, no
// old-Mac line endings) both parsers agree on every cell and on the spreadsheet row of every record.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"", "a,b\n1,2\n", "a;b\r\n1;2\r\n", "a\tb\r1\t2\r", "a|b\n\n\"x\ny\"|2\n",
		"\xEF\xBB\xBFa,b\n", "\xFF\xFEa\x00,\x00b\x00\n\x00", "\xFE\xFF\x00a\x00\r\x00\n",
		"a,b\nO\"Brien,x\n", "\"Bob \"the\" b\",x\n1,2", "a\n\"open\n1,2\n", "\"x\"\"y\",\"\"\n",
		"a,b\n1\r2,3\n", "\r", "\r\n\r\n", "\"", "\"\"\"", ",,,\n,,", "a\n\"x\"\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := New(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		type got struct {
			row   int
			cells []string
		}
		var mine []got
		malformed := false
		last := 0
		for calls := 0; ; calls++ {
			// A record consumes at least one byte, UTF-16 decoding can at most triple them.
			if calls > 3*len(in)+2 {
				t.Fatalf("Next does not terminate after %d calls", calls)
			}
			r, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if r.Row <= last {
				t.Fatalf("row %d after row %d", r.Row, last)
			}
			last = r.Row
			if r.Malformed != "" {
				malformed = true
			}
			if len(r.Cells) > 0 {
				mine = append(mine, got{r.Row, append([]string(nil), r.Cells...)})
			}
		}
		// encoding/csv knows neither BOMs nor old-Mac line endings.
		if c.mac || bytes.HasPrefix(in, []byte{0xEF, 0xBB, 0xBF}) ||
			bytes.HasPrefix(in, []byte{0xFF, 0xFE}) || bytes.HasPrefix(in, []byte{0xFE, 0xFF}) {
			return
		}
		std := csv.NewReader(bytes.NewReader(in))
		std.Comma = c.Delimiter()
		std.FieldsPerRecord = -1
		var theirs []got
		embedded := 0
		for {
			rec, err := std.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !malformed {
					t.Fatalf("encoding/csv: %v, but no record came back malformed", err)
				}
				return
			}
			line, _ := std.FieldPos(0)
			theirs = append(theirs, got{line - embedded, rec})
			for _, cell := range rec {
				embedded += strings.Count(cell, "\n")
			}
		}
		if malformed {
			t.Fatalf("a record came back malformed, encoding/csv read the file")
		}
		if !reflect.DeepEqual(mine, theirs) {
			t.Fatalf("records differ\n mine %+v\ntheirs %+v", mine, theirs)
		}
	})
}
