package xlsxfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

type rec struct {
	row   int
	cells []string
}

// workbook builds an .xlsx in memory; fill writes the first sheet (and more if it likes).
func workbook(t testing.TB, fill func(f *excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	fill(f)
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func set(t testing.TB, f *excelize.File, sheet, cell string, v any) {
	t.Helper()
	if err := f.SetCellValue(sheet, cell, v); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, x *Reader) []rec {
	t.Helper()
	var got []rec
	for {
		r, err := x.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, rec{r.Row, append([]string(nil), r.Cells...)})
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		fill func(t *testing.T, f *excelize.File)
		want []rec
	}{
		{
			name: "header and rows, values verbatim",
			fill: func(t *testing.T, f *excelize.File) {
				_ = f.SetSheetRow("Sheet1", "A1", &[]any{"first_name", "last_name", "employee_email", "employee_id", "membership_active"})
				_ = f.SetSheetRow("Sheet1", "A2", &[]any{"Zoë", "O'Brien", "zoe@acme.com", 123456789, true})
				_ = f.SetSheetRow("Sheet1", "A3", &[]any{"李", "Nguyễn", "li@acme.com", "00123", false})
				_ = f.SetSheetRow("Sheet1", "A4", &[]any{"Ann", "Lee", "ann@acme.com", 1234567890123, "yes"})
				// A scientific number format must not leak into the value.
				style, err := f.NewStyle(&excelize.Style{NumFmt: 11}) // 0.00E+00
				if err != nil {
					t.Fatal(err)
				}
				_ = f.SetCellStyle("Sheet1", "D2", "D4", style)
			},
			want: []rec{
				{1, []string{"first_name", "last_name", "employee_email", "employee_id", "membership_active"}},
				{2, []string{"Zoë", "O'Brien", "zoe@acme.com", "123456789", "TRUE"}},
				{3, []string{"李", "Nguyễn", "li@acme.com", "00123", "FALSE"}},
				{4, []string{"Ann", "Lee", "ann@acme.com", "1234567890123", "yes"}},
			},
		},
		{
			// An employee id typed as a number and shown with leading zeros reads as shown
			// (it once lost them); formats that would rewrite or lose the value do not
			// apply; text is never formatted.
			name: "zero padding formats apply, others do not",
			fill: func(t *testing.T, f *excelize.File) {
				style := func(code string) int {
					st, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
				builtin := func(id int) int {
					st, err := f.NewStyle(&excelize.Style{NumFmt: id})
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
				_ = f.SetSheetRow("Sheet1", "A1", &[]any{123, 123, "0123", 45, 1234567, 123456789, 0.25, 45000, 7})
				for cell, st := range map[string]int{"A1": style("00000"), "B1": style(`"E"00000`), "C1": style("00000"),
					"D1": style(`00000\-0000`), "E1": builtin(3), "F1": style("0.00E+00"), "G1": builtin(10), "H1": builtin(14),
					"I1": style("0000;-0000")} {
					_ = f.SetCellStyle("Sheet1", cell, cell, st)
				}
			},
			want: []rec{{1, []string{"00123", "E00123", "0123", "00000-0045", "1234567", "123456789", "0.25", "45000", "7"}}},
		},
		{
			name: "gap rows are absent, numbers stay the sheet's",
			fill: func(t *testing.T, f *excelize.File) {
				set(t, f, "Sheet1", "A1", "email")
				set(t, f, "Sheet1", "A2", "a@acme.com")
				set(t, f, "Sheet1", "A5", "b@acme.com")
				set(t, f, "Sheet1", "C7", "c@acme.com") // leading blank cells kept as ""
			},
			want: []rec{{1, []string{"email"}}, {2, []string{"a@acme.com"}}, {5, []string{"b@acme.com"}}, {7, []string{"", "", "c@acme.com"}}},
		},
		{
			name: "header below empty rows is not renumbered",
			fill: func(t *testing.T, f *excelize.File) {
				set(t, f, "Sheet1", "B3", "email")
				set(t, f, "Sheet1", "B4", "a@acme.com")
			},
			want: []rec{{3, []string{"", "email"}}, {4, []string{"", "a@acme.com"}}},
		},
		{
			name: "first worksheet only",
			fill: func(t *testing.T, f *excelize.File) {
				set(t, f, "Sheet1", "A1", "first")
				if _, err := f.NewSheet("Other"); err != nil {
					t.Fatal(err)
				}
				set(t, f, "Other", "A1", "second")
				if idx, err := f.GetSheetIndex("Other"); err == nil {
					f.SetActiveSheet(idx) // the active tab is not what we read
				}
			},
			want: []rec{{1, []string{"first"}}},
		},
		{
			name: "empty sheet",
			fill: func(t *testing.T, f *excelize.File) {},
			want: nil,
		},
		{
			name: "formula without a cached value is an empty cell",
			fill: func(t *testing.T, f *excelize.File) {
				set(t, f, "Sheet1", "A1", "n")
				if err := f.SetCellFormula("Sheet1", "A2", "1+1"); err != nil {
					t.Fatal(err)
				}
			},
			want: []rec{{1, []string{"n"}}, {2, []string{""}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := workbook(t, func(f *excelize.File) { tt.fill(t, f) })
			x, err := New(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer x.Close()
			got := readAll(t, x)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("records\n got %+v\nwant %+v", got, tt.want)
			}
			if _, err := x.Next(); err != io.EOF {
				t.Errorf("Next after EOF: %v", err)
			}
			if err := x.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestNotAWorkbook(t *testing.T) {
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("hello.txt")
	_, _ = w.Write([]byte("hello"))
	_ = zw.Close()

	valid := workbook(t, func(f *excelize.File) { _ = f.SetCellValue("Sheet1", "A1", "x") })

	tests := []struct {
		name string
		in   []byte
	}{
		{"zip that is not a workbook", zipped.Bytes()},
		{"garbage bytes", []byte("this is not a workbook at all\x00\x01\x02")},
		{"empty input", nil},
		{"truncated workbook", valid[:len(valid)/2]},
		{"old binary xls signature", append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), make([]byte, 600)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			x, err := New(bytes.NewReader(tt.in), 1<<20)
			if !errors.Is(err, ErrNotWorkbook) {
				if x != nil {
					x.Close()
				}
				t.Fatalf("err = %v, want ErrNotWorkbook", err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	data := workbook(t, func(f *excelize.File) { _ = f.SetCellValue("Sheet1", "A1", "x") })
	if _, err := New(bytes.NewReader(data), int64(len(data))-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over maxBytes: %v", err)
	}
	// A zip bomb: a small file that unpacks to more than excelize may hold in memory.
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("xl/media/image1.png")
	zeros := make([]byte, 1<<20)
	for i := 0; i < MaxInMemoryBytes>>20+1; i++ {
		_, _ = w.Write(zeros)
	}
	_ = zw.Close()
	if _, err := New(bytes.NewReader(bomb.Bytes()), 256<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("zip bomb (%d bytes): %v", bomb.Len(), err)
	}
	// A read error of the source comes back wrapped, for the caller's own limit.
	boom := errors.New("boom")
	if _, err := New(io.MultiReader(bytes.NewReader(data[:100]), errReader{boom}), 0); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// A sheet over excelize's in-memory limit is streamed from a temporary file; Close
// removes it and every other temporary file.
func TestLargeSheetStreamsAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 20 MB sheet")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	const n = 40_000
	pad := strings.Repeat("x", 80)
	data := workbook(t, func(f *excelize.File) {
		sw, err := f.NewStreamWriter("Sheet1")
		if err != nil {
			t.Fatal(err)
		}
		_ = sw.SetRow("A1", []any{"first_name", "last_name", "employee_email", "note"})
		for i := 2; i <= n; i++ {
			cell, _ := excelize.CoordinatesToCellName(1, i)
			_ = sw.SetRow(cell, []any{fmt.Sprintf("Jane%d", i), pad, fmt.Sprintf("jane%d@acme.com", i), pad + pad})
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	x, err := New(bytes.NewReader(data), 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(tmp)
	if len(left) == 0 {
		t.Fatal("expected excelize to stream the sheet from a temporary file (is the sheet over 16 MiB?)")
	}
	count := 0
	for {
		r, err := x.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		if r.Row != count {
			t.Fatalf("row %d, want %d", r.Row, count)
		}
		if count > 1 && r.Cells[0] != fmt.Sprintf("Jane%d", count) {
			t.Fatalf("row %d: %q", count, r.Cells[0])
		}
	}
	if count != n {
		t.Fatalf("%d rows, want %d", count, n)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// repack copies a workbook, replacing the parts named in parts. With stored, the parts
// are stored (not deflated) with no CRC, which archive/zip then does not verify: the
// fuzzer's mutations reach excelize's XML parsing instead of stopping at a checksum.
func repack(t testing.TB, data []byte, parts map[string][]byte, stored bool) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		body, ok := parts[f.Name]
		if !ok {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			body, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		var w io.Writer
		if stored {
			w, err = zw.CreateRaw(&zip.FileHeader{Name: f.Name, Method: zip.Store,
				CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))})
		} else {
			w, err = zw.Create(f.Name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// A small workbook whose one cell, row or shared string unpacks to more than MaxRowXML is
// refused before excelize reads it (it would hold it whole in memory: a 3 MB file with a
// 3 GiB cell took 20 GB), whatever the XML's namespace prefix; many ordinary rows adding up
// to more than MaxRowXML are fine (TestLargeSheetStreamsAndCleansUp).
func TestRowTooLarge(t *testing.T) {
	data := workbook(t, func(f *excelize.File) { _ = f.SetCellValue("Sheet1", "A1", "first_name") })
	huge := strings.Repeat("A", MaxRowXML+1)
	runs := strings.Repeat("<r><t>AAAAAAAAAAAAAAAA</t></r>", MaxRowXML/30+1)
	sheet := func(rows string) []byte {
		return []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + rows + `</sheetData></worksheet>`)
	}
	cases := map[string]map[string][]byte{
		"one cell's text":    {"xl/worksheets/sheet1.xml": sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>` + huge + `</t></is></c></row>`)},
		"a row of many runs": {"xl/worksheets/sheet1.xml": sheet(`<row r="1"><c r="A1" t="inlineStr"><is>` + runs + `</is></c></row>`)},
		"an attribute":       {"xl/worksheets/sheet1.xml": sheet(`<row r="1"><c r="A1" s="` + huge + `"/></row>`)},
		"a prefixed row": {"xl/worksheets/sheet1.xml": []byte(`<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>` +
			`<x:row r="1"><x:c r="A1" t="inlineStr"><x:is>` + runs + `</x:is></x:c></x:row></x:sheetData></x:worksheet>`)},
		"a shared string": {"xl/sharedStrings.xml": []byte(`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si>` + runs + `</si></sst>`)},
	}
	for name, parts := range cases {
		t.Run(name, func(t *testing.T) {
			bomb := repack(t, data, parts, false)
			x, err := New(bytes.NewReader(bomb), 256<<20)
			if err == nil {
				x.Close()
			}
			if !errors.Is(err, ErrRowTooLarge) {
				t.Fatalf("a %d-byte workbook with %s over %d MiB: %v, want ErrRowTooLarge", len(bomb), name, MaxRowXML>>20, err)
			}
		})
	}
	// Rows just under the bound, many of them, are read.
	var rows strings.Builder
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&rows, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>%s</t></is></c></row>`, i, i, strings.Repeat("B", MaxRowXML-100))
	}
	x, err := New(bytes.NewReader(repack(t, data, map[string][]byte{"xl/worksheets/sheet1.xml": sheet(rows.String())}, false)), 256<<20)
	if err != nil {
		t.Fatalf("rows under the bound: %v", err)
	}
	defer x.Close()
	for i := 1; i <= 3; i++ {
		r, err := x.Next()
		if err != nil || len(r.Cells) != 1 || len(r.Cells[0]) != MaxRowXML-100 {
			t.Fatalf("row %d: %v, %d cells", i, err, len(r.Cells))
		}
	}
}

// A sheet that is not a whole XML document is damaged: excelize stops reading it without
// an error, which made such a file look empty ("no learners") instead of broken.
func TestDamagedSheet(t *testing.T) {
	data := workbook(t, func(f *excelize.File) { _ = f.SetCellValue("Sheet1", "A1", "first_name") })
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	for name, sheet := range map[string]string{
		"cut short":    `<worksheet ` + ns + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row><row r="2"><c r="A2" t="inlineS`,
		"not XML":      `<<<>>>not xml at all`,
		"a DOCTYPE":    `<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet ` + ns + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a;</t></is></c></row></sheetData></worksheet>`,
		"another root": `<sheetData ` + ns + `><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row></sheetData>`,
		// Damage in the middle: excelize read the rows before it and stopped without an
		// error, so a file imported part of its learners as if that were all of them.
		"a stray < mid-sheet": `<worksheet ` + ns + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row><row <<r="2"></row></sheetData></worksheet>`,
		"a wrong end tag":     `<worksheet ` + ns + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></x></row></sheetData></worksheet>`,
		"an unclosed element": `<worksheet ` + ns + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></row></sheetData></worksheet>`,
		"nested too deep":     `<worksheet ` + ns + `>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</worksheet>`,
		"< in an attribute":   `<worksheet ` + ns + `><sheetData><row r="1<"></row></sheetData></worksheet>`,
	} {
		_, err := New(bytes.NewReader(repack(t, data, map[string][]byte{"xl/worksheets/sheet1.xml": []byte(sheet)}, false)), 1<<20)
		if !errors.Is(err, ErrDamaged) || !errors.Is(err, ErrNotWorkbook) {
			t.Errorf("%s: %v, want ErrDamaged", name, err)
		}
	}
	// Attribute values may hold ">"; self-closing elements, a declaration and comments are
	// fine.
	fine := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n" + `<worksheet ` + ns + `><!-- a comment --><dimension ref="A1"/>` +
		`<sheetData><row r="1" x="a>b" y='c"d'><c r="A1" t="inlineStr"><is><t>first_name</t></is></c><c r="B1" /></row></sheetData></worksheet>`
	x, err := New(bytes.NewReader(repack(t, data, map[string][]byte{"xl/worksheets/sheet1.xml": []byte(fine)}, false)), 1<<20)
	if err != nil {
		t.Fatalf("a well-formed sheet: %v", err)
	}
	if r, err := x.Next(); err != nil || len(r.Cells) < 1 || r.Cells[0] != "first_name" {
		t.Fatalf("a well-formed sheet's first row: %+v %v", r, err)
	}
	x.Close()
	// A prefixed root, and trailing space, are whole documents.
	sheet := `<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>first_name</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>` + "\r\n "
	x, err = New(bytes.NewReader(repack(t, data, map[string][]byte{"xl/worksheets/sheet1.xml": []byte(sheet)}, false)), 1<<20)
	if err != nil {
		t.Fatalf("a prefixed sheet: %v", err)
	}
	defer x.Close()
	if r, err := x.Next(); err != nil || len(r.Cells) != 1 || r.Cells[0] != "first_name" {
		t.Fatalf("a prefixed sheet's first row: %+v %v", r, err)
	}
}
