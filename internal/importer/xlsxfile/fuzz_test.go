package xlsxfile

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/xuri/excelize/v2"
)

// FuzzReader checks that any bytes give an error or a reader whose rows strictly increase
// and end, without a panic reaching the caller.
func FuzzReader(f *testing.F) {
	valid := workbook(f, func(x *excelize.File) {
		_ = x.SetSheetRow("Sheet1", "A1", &[]any{"first_name", "employee_email", "employee_id"})
		_ = x.SetSheetRow("Sheet1", "A2", &[]any{"Zoë", "zoe@acme.com", 123456789})
		_ = x.SetSheetRow("Sheet1", "B4", &[]any{true, 1.5, "x"})
	})
	f.Add(valid)
	f.Add(repack(f, valid, nil, true))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := New(bytes.NewReader(in), 1<<20)
		if err != nil {
			if !errors.Is(err, ErrNotWorkbook) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrRowTooLarge) {
				t.Fatalf("New: unexpected error %v", err)
			}
			return
		}
		defer x.Close()
		last := 0
		for calls := 0; ; calls++ {
			if calls > 1<<20+1 {
				t.Fatal("Next does not terminate")
			}
			r, err := x.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrNotWorkbook) {
					t.Fatalf("Next: unexpected error %v", err)
				}
				break
			}
			if r.Row <= last {
				t.Fatalf("row %d after row %d", r.Row, last)
			}
			last = r.Row
		}
	})
}
