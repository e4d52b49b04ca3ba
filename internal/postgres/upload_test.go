package postgres

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/postgres/pgtest"
)

// TestUploadErrorsByteOrderLinguisticDB: on a database whose default collation is
// linguistic (ICU en-US, where "a" < "B"), upload errors still come back in
// RowError.Less's byte order, as SQLite gives them; the test database itself is C.UTF-8,
// where the two agree and the conformance suite could not tell.
func TestUploadErrorsByteOrderLinguisticDB(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := pgtest.Database(t, "roster_test_icu", "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
	db, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	var linguistic bool
	if err := db.pool.QueryRow(ctx, `SELECT 'a' < 'B'`).Scan(&linguistic); err != nil || !linguistic {
		t.Fatalf("the database does not collate linguistically ('a' < 'B' = %v, %v): the test would prove nothing", linguistic, err)
	}

	org := newOrg(t, db, "acme")
	up := &roster.Upload{OrgID: org.ID, CreatedBy: "ann@acme.com", FileName: "f.csv", Status: roster.UploadValidated}
	if err := db.CreateUpload(ctx, up, bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	var in []roster.RowError
	for _, code := range []string{roster.CodeTooLong, roster.CodeInvalidName} {
		for _, v := range []string{"b", "é", "B", "a b", "ab", "A", "e", "Z", "a"} {
			in = append(in, roster.RowError{Row: 2, Column: roster.ColFirstName, Code: code, Value: v, Message: "m"})
		}
	}
	if err := db.SaveUploadResult(ctx, org.ID, up.ID, []byte(`{}`), 1, slices.Values(in)); err != nil {
		t.Fatal(err)
	}
	got, err := db.UploadErrors(ctx, org.ID, up.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(in)
	slices.SortStableFunc(want, func(a, b roster.RowError) int {
		if a.Less(b) {
			return -1
		} else if b.Less(a) {
			return 1
		}
		return 0
	})
	if !slices.Equal(got, want) {
		t.Fatalf("errors in the order\n%v\nwant\n%v", got, want)
	}
}
