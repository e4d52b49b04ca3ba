package csvfile

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"testing"
)

// benchFile is a plain learner file of about 20 MB: the nine contract columns, CRLF,
// a quoted cell now and then.
func benchFile() []byte {
	var b bytes.Buffer
	b.WriteString("first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email,membership_active\r\n")
	for i := 0; b.Len() < 20<<20; i++ {
		fmt.Fprintf(&b, "Jane%d,Doe-Smith,jane.doe%d@acme.com,E%08d,\"Engineer, Senior\",Research and Development,Paris,boss%d@acme.com,true\r\n", i, i, i, i%100)
	}
	return b.Bytes()
}

func BenchmarkReader(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := New(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEncodingCSV is the standard library on the same file, for comparison.
func BenchmarkEncodingCSV(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		r.ReuseRecord = true
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
