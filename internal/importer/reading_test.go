package importer

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"

	"github.com/roster-dev/roster"
)

func runBytes(t *testing.T, b []byte, lim Limits) *roster.ImportReport {
	t.Helper()
	rep, err := Run(context.Background(), Input{Name: "f", R: bytes.NewReader(b)}, Env{Org: testOrg, Limits: lim})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func utf16Bytes(s string, bigEndian bool) []byte {
	var b bytes.Buffer
	if bigEndian {
		b.Write([]byte{0xFE, 0xFF})
	} else {
		b.Write([]byte{0xFF, 0xFE})
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b.Write([]byte{byte(u >> 8), byte(u)})
		} else {
			b.Write([]byte{byte(u), byte(u >> 8)})
		}
	}
	return b.Bytes()
}

func TestReading(t *testing.T) {
	const simple = "first_name,last_name,employee_email\r\nJane,Doe,jane@acme.com\r\nJohn,Roe,john@acme.com\r\n"
	cases := []struct {
		name      string
		file      []byte
		lim       Limits
		rows      int
		errors    []string
		warnings  []string
		format    string
		delimiter string
		encoding  string
		check     func(t *testing.T, rep *roster.ImportReport)
	}{
		{name: "comma CRLF", file: []byte(simple), rows: 2, format: "csv", delimiter: ","},
		{name: "semicolon", file: []byte("first_name;last_name;employee_email\nJane;Doe;jane@acme.com\n"), rows: 1, delimiter: ";"},
		{name: "tab", file: []byte("first_name\tlast_name\temployee_email\nJane\tDoe\tjane@acme.com\n"), rows: 1, delimiter: "\t"},
		{name: "pipe", file: []byte("first_name|last_name|employee_email\nJane|Doe|jane@acme.com\n"), rows: 1, delimiter: "|"},
		{name: "semicolon with commas in cells", file: []byte("first_name;last_name;employee_email;location\nJane;Doe;jane@acme.com;Berlin, Germany\n"), rows: 1, delimiter: ";"},
		{name: "LF", file: []byte(strings.ReplaceAll(simple, "\r\n", "\n")), rows: 2},
		{name: "CR only", file: []byte(strings.ReplaceAll(simple, "\r\n", "\r")), rows: 2},
		{name: "no final line break", file: []byte(strings.TrimSuffix(simple, "\r\n")), rows: 2},
		{name: "UTF-8 BOM", file: append([]byte("\xEF\xBB\xBF"), simple...), rows: 2, encoding: "utf-8-bom",
			check: func(t *testing.T, rep *roster.ImportReport) {
				if rep.Columns["first_name"] != "first_name" {
					t.Errorf("BOM kept in header: %q", rep.Columns)
				}
			}},
		{name: "UTF-16LE", file: utf16Bytes("first_name,last_name,employee_email\r\nZoë,Doe,zoe@acme.com\r\n", false), rows: 1, encoding: "utf-16le"},
		{name: "UTF-16BE", file: utf16Bytes("first_name,last_name,employee_email\r\nZoë,Doe,zoe@acme.com\r\n", true), rows: 1, encoding: "utf-16be"},
		{name: "Windows-1252 guessed", file: []byte("first_name,last_name,employee_email\nZo\xeb,M\xfcller,zoe@acme.com\n"), rows: 1,
			warnings: []string{"0::encoding_guessed"}, encoding: "windows-1252"},
		{name: "quoted line break stays one row", file: []byte("first_name,last_name,employee_email,location\nJane,Doe,jane@acme.com,\"Berlin\nGermany\"\nJ@hn,Roe,john@acme.com,\n"),
			rows: 2, errors: []string{"3:first_name:invalid_name"}},
		{name: "blank rows take their number", file: []byte("first_name,last_name,employee_email\n\nJane,Doe,jane@acme.com\n,,\n  ,\t,\nJ@hn,Roe,john@acme.com\n"),
			rows: 2, errors: []string{"6:first_name:invalid_name"}},
		{name: "blank lines before the header", file: []byte("\n\nfirst_name,last_name,employee_email\nJ@ne,Doe,jane@acme.com\n"),
			rows: 1, errors: []string{"4:first_name:invalid_name"}},
		{name: "blank lines before a semicolon header", file: []byte("\r\n;;\r\nfirst_name;last_name;employee_email;Shoe Size\r\nJ@ne;Doe;jane@acme.com;42\r\n"),
			rows: 1, delimiter: ";", errors: []string{"4:first_name:invalid_name"}, warnings: []string{"3::unknown_column"}},
		{name: "header errors on the header's row, with the file's delimiter", file: utf16Bytes("\r\nfirst_name\tlast_name\temail\temail\r\nJane\tDoe\tjane@acme.com\tx\r\n", false),
			delimiter: "\t", encoding: "utf-16le", errors: []string{"2:employee_email:duplicate_column"}},
		{name: "aliases", file: []byte("Given Name,Surname,Work Email,Employee Number,Title,Manager,Dept.,Office,Active\nJane,Doe,jane@acme.com,E1,Eng,boss@acme.com,R&D,Berlin,yes\n"), rows: 1,
			warnings: []string{"2:manager_email:manager_not_found"},
			check: func(t *testing.T, rep *roster.ImportReport) {
				want := map[string]string{"first_name": "Given Name", "last_name": "Surname", "employee_email": "Work Email", "employee_id": "Employee Number",
					"job_title": "Title", "manager_email": "Manager", "department": "Dept.", "location": "Office", "membership_active": "Active"}
				for k, v := range want {
					if rep.Columns[k] != v {
						t.Errorf("columns[%s] = %q, want %q", k, rep.Columns[k], v)
					}
				}
			}},
		{name: "header normalisation", file: []byte("  FIRST-NAME ,last.name,E-mail  Address\nJane,Doe,jane@acme.com\n"), rows: 1},
		{name: "email alias", file: []byte("first name,last name,email\nJane,Doe,jane@acme.com\n"), rows: 1},
		{name: "unknown column", file: []byte("first_name,last_name,employee_email,Shoe Size\nJane,Doe,jane@acme.com,42\n"), rows: 1,
			warnings: []string{"1::unknown_column"}, check: func(t *testing.T, rep *roster.ImportReport) {
				if rep.Warnings[0].Value != "Shoe Size" {
					t.Errorf("value = %q", rep.Warnings[0].Value)
				}
			}},
		{name: "duplicate column", file: []byte("first_name,last_name,email,employee_email\nJane,Doe,jane@acme.com,jane@acme.com\n"),
			errors: []string{"1:employee_email:duplicate_column"}},
		{name: "missing columns", file: []byte("first_name,department\nJane,R&D\n"),
			errors: []string{"1:last_name:missing_column", "1:employee_email:missing_column"}},
		{name: "extra cells", file: []byte("first_name,last_name,employee_email\nJane,Doe,jane@acme.com,surplus,more\n"), rows: 1,
			warnings: []string{"2::extra_cells"}},
		{name: "extra blank cells are fine", file: []byte("first_name,last_name,employee_email\nJane,Doe,jane@acme.com,,\n"), rows: 1},
		{name: "fewer cells count as blank", file: []byte("first_name,last_name,employee_email,department\nJane,Doe\n"), rows: 1,
			errors: []string{"2:employee_email:missing_required"}},
		{name: "broken quoting", file: []byte("first_name,last_name,employee_email\nJane,Do\"e,jane@acme.com\nJohn,Roe,john@acme.com\n"),
			rows: 2, errors: []string{"2::malformed_row"}},
		{name: "empty file", file: nil, errors: []string{"0::empty_file"}},
		{name: "white space only", file: []byte(" \r\n\r\n"), errors: []string{"0::empty_file"}},
		{name: "header only", file: []byte("first_name,last_name,employee_email\r\n"), errors: []string{"0::empty_file"}},
		{name: "header and blank rows", file: []byte("first_name,last_name,employee_email\r\n,,\r\n\r\n"), errors: []string{"0::empty_file"}},
		{name: "too many rows", file: []byte(simple + "Ann,Lee,ann@acme.com\r\n"), lim: Limits{MaxRows: 2}, rows: 2,
			errors: []string{"0::too_many_rows"}},
		{name: "exactly max rows", file: []byte(simple), lim: Limits{MaxRows: 2}, rows: 2},
		{name: "too large", file: []byte(simple + strings.Repeat("Ann,Lee,ann@acme.com\r\n", 100)), lim: Limits{MaxBytes: 200},
			errors: []string{"0::file_too_large"}, check: func(t *testing.T, rep *roster.ImportReport) {
				if rep.Rows > 10 {
					t.Errorf("rows read before the limit: %d", rep.Rows)
				}
			}},
		{name: "PDF", file: []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), errors: []string{"0::unsupported_format"}},
		{name: "PNG", file: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), errors: []string{"0::unsupported_format"},
			check: func(t *testing.T, rep *roster.ImportReport) {
				if !strings.Contains(rep.Errors[0].Message, "picture") {
					t.Errorf("message: %q", rep.Errors[0].Message)
				}
			}},
		{name: "UTF-16LE without a BOM", file: utf16Bytes("first_name,last_name,employee_email\r\nZoe,Doe,zoe@acme.com\r\n", false)[2:],
			errors: []string{"0::unsupported_format"}, check: func(t *testing.T, rep *roster.ImportReport) {
				if !strings.Contains(rep.Errors[0].Message, "UTF-16 text without a byte order mark") {
					t.Errorf("message: %q", rep.Errors[0].Message)
				}
			}},
		{name: "UTF-16BE without a BOM", file: utf16Bytes("first_name,last_name,employee_email\r\nZoe,Doe,zoe@acme.com\r\n", true)[2:],
			errors: []string{"0::unsupported_format"}, check: func(t *testing.T, rep *roster.ImportReport) {
				if !strings.Contains(rep.Errors[0].Message, "UTF-16") {
					t.Errorf("message: %q", rep.Errors[0].Message)
				}
			}},
		{name: "SVG", file: []byte("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n"), errors: []string{"0::unsupported_format"}},
		{name: "HTML with a BOM", file: []byte("\xEF\xBB\xBF\n<!DOCTYPE html><html><table><tr><td>first_name</td></tr></table></html>"), errors: []string{"0::unsupported_format"}},
		{name: "old xls", file: []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00\x00"), errors: []string{"0::unsupported_format"}},
		{name: "zip that is not a workbook", file: zipOf(t, "hello.txt", "hi"), errors: []string{"0::unsupported_format"}},
		{name: "xlsx", file: xlsxOf(t, [][]any{{"First Name", "Last Name", "Email", "Employee ID"}, {"Jane", "Doe", "jane@acme.com", 123456789012}, {"J@hn", "Roe", "john@acme.com", "E2"}}),
			rows: 2, format: "xlsx", errors: []string{"3:first_name:invalid_name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := runBytes(t, tc.file, tc.lim)
			want := tc.errors
			if want == nil {
				want = []string{}
			}
			if g := got(rep.Errors); strings.Join(g, " ") != strings.Join(want, " ") {
				t.Fatalf("errors\n got %v\nwant %v\n%+v", g, want, rep.Errors)
			}
			wantW := tc.warnings
			if wantW == nil {
				wantW = []string{}
			}
			if g := got(rep.Warnings); strings.Join(g, " ") != strings.Join(wantW, " ") {
				t.Fatalf("warnings\n got %v\nwant %v\n%+v", g, wantW, rep.Warnings)
			}
			if rep.Rows != tc.rows {
				t.Errorf("rows = %d, want %d", rep.Rows, tc.rows)
			}
			if tc.format != "" && rep.File.Format != tc.format {
				t.Errorf("format = %q, want %q", rep.File.Format, tc.format)
			}
			if tc.delimiter != "" && rep.File.Delimiter != tc.delimiter {
				t.Errorf("delimiter = %q, want %q", rep.File.Delimiter, tc.delimiter)
			}
			if tc.encoding != "" && rep.File.Encoding != tc.encoding {
				t.Errorf("encoding = %q, want %q", rep.File.Encoding, tc.encoding)
			}
			if tc.check != nil {
				tc.check(t, rep)
			}
		})
	}
}

func TestXLSXKeepsNumbersAndReadsFirstSheet(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	f.SetSheetRow("Sheet1", "A1", &[]any{"first_name", "last_name", "employee_email", "employee_id", "membership_active"})
	f.SetSheetRow("Sheet1", "A2", &[]any{"Jane", "Doe", "jane@acme.com", 1234567890123, true})
	f.SetSheetRow("Sheet1", "A4", &[]any{"Zoë", "Doe", "zoe@acme.com", "00042", false})
	f.NewSheet("Other")
	f.SetSheetRow("Other", "A1", &[]any{"nothing", "here"})
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	var changes []roster.LearnerChange
	rep, err := Run(context.Background(), Input{Name: "f.xlsx", R: &buf}, Env{Org: testOrg, OnChange: func(c roster.LearnerChange) { changes = append(changes, c) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Rows != 2 || rep.File.Format != "xlsx" || rep.File.Delimiter != "" {
		t.Fatalf("report: %+v", rep)
	}
	if len(changes) != 2 || changes[0].After.EmployeeID != "1234567890123" || changes[1].After.EmployeeID != "00042" || changes[1].Row != 4 {
		t.Fatalf("changes: %+v", changes)
	}
	if !changes[0].After.Active || changes[1].After.Active {
		t.Fatalf("membership: %+v", changes)
	}
}

func xlsxOf(t *testing.T, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
