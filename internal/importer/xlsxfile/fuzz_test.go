package xlsxfile

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/xuri/excelize/v2"
)

// storedUnchecked re-packs a zip with its parts stored (not deflated) and no CRC, which
// archive/zip then does not verify: the fuzzer's mutations reach excelize's XML parsing
// instead of stopping at a checksum.
func storedUnchecked(t testing.TB, data []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: f.Name, Method: zip.Store,
			CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))})
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

// FuzzReader checks that any bytes give an error or a reader whose rows strictly increase
// and end, without a panic reaching the caller.
func FuzzReader(f *testing.F) {
	valid := workbook(f, func(x *excelize.File) {
		_ = x.SetSheetRow("Sheet1", "A1", &[]any{"first_name", "employee_email", "employee_id"})
		_ = x.SetSheetRow("Sheet1", "A2", &[]any{"Zoë", "zoe@acme.com", 123456789})
		_ = x.SetSheetRow("Sheet1", "B4", &[]any{true, 1.5, "x"})
	})
	f.Add(valid)
	f.Add(storedUnchecked(f, valid))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := New(bytes.NewReader(in), 1<<20)
		if err != nil {
			if !errors.Is(err, ErrNotWorkbook) && !errors.Is(err, ErrTooLarge) {
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
