package xlsxfile

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/xuri/excelize/v2"
)

// BenchmarkReader reads a 50,000-row workbook of the nine contract columns, written the
// way Excel does (shared strings).
func BenchmarkReader(b *testing.B) { benchReader(b, false) }

// BenchmarkReaderStyled is BenchmarkReader with every cell styled (a font, and the
// employee ids zero-padded), as a sheet formatted in Excel is: every cell goes through
// excelize's number formatting.
func BenchmarkReaderStyled(b *testing.B) { benchReader(b, true) }

func benchReader(b *testing.B, styled bool) {
	const n = 50_000
	data := workbook(b, func(f *excelize.File) {
		_ = f.SetSheetRow("Sheet1", "A1", &[]any{"first_name", "last_name", "employee_email", "employee_id",
			"job_title", "department", "location", "manager_email", "membership_active"})
		for i := 2; i <= n; i++ {
			cell, _ := excelize.CoordinatesToCellName(1, i)
			_ = f.SetSheetRow("Sheet1", cell, &[]any{fmt.Sprintf("Jane%d", i), "Doe", fmt.Sprintf("jane%d@acme.com", i),
				100000 + i, "Engineer", "R&D", "Paris", "boss@acme.com", true})
		}
		if styled {
			font, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Family: "Arial"}})
			code := "00000000"
			pad, _ := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
			_ = f.SetCellStyle("Sheet1", "A2", fmt.Sprintf("I%d", n), font)
			_ = f.SetCellStyle("Sheet1", "D2", fmt.Sprintf("D%d", n), pad)
		}
	})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x, err := New(bytes.NewReader(data), 256<<20)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			_, err := x.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
		if rows != n {
			b.Fatalf("%d rows", rows)
		}
		x.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
