package web

import (
	"encoding/csv"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
)

// TestManyErrorsPagedAndCSV uploads 50,000 rows with two errors each, one of them
// (duplicate_email) found only after the whole file is read and so reported out of row
// order, and checks that the wizard's paged table and the error CSV hold every error,
// sorted by row then the columns table, and that the spill file is gone afterwards.
func TestManyErrorsPagedAndCSV(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the server spills errors while it validates
	e := newEnv(t)
	tn := e.tenant("acme")
	const rows, half = 50_000, 25_000
	var sb strings.Builder
	sb.WriteString("first_name,last_name,employee_email\n")
	for i := 0; i < rows; i++ {
		// "N123" is not a name (digits); row i and row i+half share an email.
		fmt.Fprintf(&sb, "N%d,Smith,p%d@acme.com\n", i, i%half)
	}
	b := e.browser()
	b.signIn(tn)
	loc := b.uploadForm("many.csv", sb.String()).Header.Get("Location")
	if !strings.HasPrefix(loc, "/uploads/upl_") {
		t.Fatalf("upload redirected to %q", loc)
	}
	id := strings.TrimPrefix(loc, "/uploads/")
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("the spill file was left behind: %v", left)
	}

	// The CSV: every error once, sorted.
	r := e.api(tn.Token).get("/api/v1/uploads/" + id + "/errors.csv")
	if r.StatusCode != 200 {
		t.Fatalf("errors.csv: %d %s", r.StatusCode, r.Body)
	}
	recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2*rows+1 || strings.Join(recs[0], ",") != "row,column,code,value,message" {
		t.Fatalf("errors.csv has %d records (want %d), header %v", len(recs), 2*rows+1, recs[0])
	}
	all := make([]roster.RowError, 0, 2*rows)
	for _, rec := range recs[1:] {
		n, err := strconv.Atoi(rec[0])
		if err != nil {
			t.Fatalf("row %q: %v", rec[0], err)
		}
		all = append(all, roster.RowError{Row: n, Column: rec[1], Code: rec[2], Value: rec[3], Message: rec[4]})
	}
	for i := 0; i < rows; i++ {
		row := i + 2
		name, dup := all[2*i], all[2*i+1]
		if name.Row != row || name.Column != roster.ColFirstName || name.Code != roster.CodeInvalidName || name.Value != "N"+strconv.Itoa(i) ||
			dup.Row != row || dup.Column != roster.ColEmployeeEmail || dup.Code != roster.CodeDuplicateEmail || dup.Value != fmt.Sprintf("p%d@acme.com", i%half) {
			t.Fatalf("errors %d and %d = %+v, %+v; want row %d's invalid_name then duplicate_email", 2*i, 2*i+1, name, dup, row)
		}
	}

	// The wizard's table: pages of 50 that are windows of the same sorted list.
	pages := 2 * rows / errorsPerPage
	cell := regexp.MustCompile(`<td class="num">(\d+)</td>\s*<td class="nowrap">[^<]*</td>\s*<td><span class="mono">([^<]*)</span>`)
	for _, p := range []int{1, 2, 3, 777, 1000, 1001, 1999, pages} {
		r := b.get(fmt.Sprintf("%s?page=%d", loc, p))
		first, last := (p-1)*errorsPerPage+1, p*errorsPerPage
		head := fmt.Sprintf("Errors %s–%s of 100,000", formatInt(first), formatInt(last))
		if !strings.Contains(r.Body, head) || !strings.Contains(r.Body, "Page "+strconv.Itoa(p)+" of 2,000") {
			t.Fatalf("page %d does not say %q / of 2,000:\n%.3000s", p, head, r.Body)
		}
		got := cell.FindAllStringSubmatch(r.Body, -1)
		if len(got) != errorsPerPage {
			t.Fatalf("page %d shows %d errors, want %d", p, len(got), errorsPerPage)
		}
		for j, m := range got {
			want := all[first-1+j]
			if m[1] != strconv.Itoa(want.Row) || m[2] != want.Value {
				t.Fatalf("page %d, line %d: row %s value %q; want %d %q", p, j, m[1], m[2], want.Row, want.Value)
			}
		}
	}
}
