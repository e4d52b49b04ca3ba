package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/roster-dev/roster"
)

// fileSize is larger than the 1 MiB pieces stores keep files in, and not a multiple of them.
const fileSize = 2<<20 + 12345

func randomFile(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readAll(t *testing.T, e *env, orgID, id string) []byte {
	t.Helper()
	f, err := e.s.OpenUploadFile(e.ctx, orgID, id)
	must(t, err, "OpenUploadFile")
	defer f.Close()
	// Small reads: the reader must carry on across its pieces.
	data, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(f, 100)))
	must(t, err, "reading the upload")
	rest, err := io.ReadAll(f)
	must(t, err, "reading the upload")
	return append(data, rest...)
}

func testUploadRoundTrip(t *testing.T, e *env) {
	o := e.org(t, "acme")
	data := randomFile(1, fileSize)
	u := &roster.Upload{OrgID: o.ID, CreatedBy: "ann@acme.com", FileName: "people.csv", Status: roster.UploadValidated,
		Report: []byte(`{"rows":3}`), BaseVersion: 4}
	// The reader hands out odd-sized pieces, as a network body does.
	must(t, e.s.CreateUpload(e.ctx, u, iotest.HalfReader(bytes.NewReader(data))), "CreateUpload")
	sum := sha256.Sum256(data)
	if u.ID == "" || u.Size != fileSize {
		t.Fatalf("CreateUpload filled in ID %q, size %d; want an ID and %d", u.ID, u.Size, fileSize)
	}
	if u.SHA256 != "" && u.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("CreateUpload SHA256 %s, want %x", u.SHA256, sum)
	}
	sameTime(t, "upload CreatedAt", u.CreatedAt, e.clock.Now())

	got, err := e.s.Upload(e.ctx, o.ID, u.ID)
	must(t, err, "Upload")
	if got.ID != u.ID || got.CreatedBy != "ann@acme.com" || got.FileName != "people.csv" || got.Size != fileSize ||
		got.SHA256 != hex.EncodeToString(sum[:]) || got.Status != roster.UploadValidated ||
		string(got.Report) != `{"rows":3}` || got.BaseVersion != 4 || got.BatchID != "" {
		t.Fatalf("Upload = %+v", got)
	}
	sameTime(t, "Upload CreatedAt", got.CreatedAt, u.CreatedAt)
	if back := readAll(t, e, o.ID, u.ID); !bytes.Equal(back, data) {
		t.Fatalf("the file came back different: %d bytes, want %d", len(back), len(data))
	}
	// Two readers at once each get the whole file.
	f1, err := e.s.OpenUploadFile(e.ctx, o.ID, u.ID)
	must(t, err, "OpenUploadFile 1")
	f2, err := e.s.OpenUploadFile(e.ctx, o.ID, u.ID)
	must(t, err, "OpenUploadFile 2")
	var b1, b2 bytes.Buffer
	buf := make([]byte, 300000)
	for done1, done2 := false, false; !done1 || !done2; {
		if !done1 {
			n, err := f1.Read(buf)
			b1.Write(buf[:n])
			done1 = errors.Is(err, io.EOF)
		}
		if !done2 {
			n, err := f2.Read(buf)
			b2.Write(buf[:n])
			done2 = errors.Is(err, io.EOF)
		}
	}
	f1.Close()
	f2.Close()
	if !bytes.Equal(b1.Bytes(), data) || !bytes.Equal(b2.Bytes(), data) {
		t.Fatal("interleaved readers got different bytes")
	}

	// An empty file is a file.
	empty := &roster.Upload{OrgID: o.ID, CreatedBy: "ann@acme.com", FileName: "empty.csv", Status: roster.UploadValidated}
	must(t, e.s.CreateUpload(e.ctx, empty, bytes.NewReader(nil)), "CreateUpload(empty)")
	if empty.Size != 0 {
		t.Fatalf("empty upload size %d", empty.Size)
	}
	if back := readAll(t, e, o.ID, empty.ID); len(back) != 0 {
		t.Fatalf("empty file came back with %d bytes", len(back))
	}
	_, err = e.s.Upload(e.ctx, o.ID, "upl_00000000000000000000000000")
	wantCode(t, err, roster.ENOTFOUND, "Upload(unknown)")
	_, err = e.s.OpenUploadFile(e.ctx, o.ID, "garbage")
	wantCode(t, err, roster.ENOTFOUND, "OpenUploadFile(garbage)")
}

// testUploadReadError: a body that breaks off leaves no upload behind.
func testUploadReadError(t *testing.T, e *env) {
	o := e.org(t, "acme")
	broken := io.MultiReader(bytes.NewReader(randomFile(2, 1<<20+10)), iotest.ErrReader(errBoom))
	u := &roster.Upload{OrgID: o.ID, CreatedBy: "ann@acme.com", FileName: "broken.csv", Status: roster.UploadValidated}
	if err := e.s.CreateUpload(e.ctx, u, broken); !errors.Is(err, errBoom) {
		t.Fatalf("CreateUpload with a failing reader: %v, want the reader's error", err)
	}
	e.clock.Advance(time.Hour)
	n, err := e.s.DeleteUploadsBefore(e.ctx, e.clock.Now().Add(time.Hour))
	must(t, err, "DeleteUploadsBefore")
	if n != 0 {
		t.Fatalf("a failed CreateUpload left %d uploads behind", n)
	}
}

func rowErrors(n int) []roster.RowError {
	errs := make([]roster.RowError, n)
	for i := range errs {
		errs[i] = roster.RowError{Row: i + 2, Column: roster.ColEmployeeEmail, Code: roster.CodeInvalidEmail,
			Value: fmt.Sprintf("bad%d@", i), Message: fmt.Sprintf("Row %d: the email is not valid", i+2)}
	}
	return errs
}

func testUploadErrors(t *testing.T, e *env) {
	o := e.org(t, "acme")
	u := &roster.Upload{OrgID: o.ID, CreatedBy: "ann@acme.com", FileName: "people.csv", Status: roster.UploadValidated}
	must(t, e.s.CreateUpload(e.ctx, u, bytes.NewReader([]byte("a,b\n"))), "CreateUpload")
	if errs, err := e.s.UploadErrors(e.ctx, o.ID, u.ID, 0, 10); err != nil || len(errs) != 0 {
		t.Fatalf("UploadErrors before any result = %v, %v", errs, err)
	}
	saved := e.clock.Advance(time.Minute)
	all := rowErrors(2345)
	must(t, e.s.SaveUploadResult(e.ctx, o.ID, u.ID, []byte(`{"error_count":2345}`), 7, slices.Values(all)), "SaveUploadResult")
	got, err := e.s.Upload(e.ctx, o.ID, u.ID)
	must(t, err, "Upload")
	if string(got.Report) != `{"error_count":2345}` || got.BaseVersion != 7 {
		t.Fatalf("Upload after SaveUploadResult = %+v", got)
	}
	sameTime(t, "UpdatedAt after SaveUploadResult", got.UpdatedAt, saved)

	var paged []roster.RowError
	for off := 0; ; off += 1000 {
		page, err := e.s.UploadErrors(e.ctx, o.ID, u.ID, off, 1000)
		must(t, err, "UploadErrors")
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		if len(paged) > len(all) {
			break
		}
	}
	if len(paged) != len(all) {
		t.Fatalf("paged %d errors, want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i] != all[i] {
			t.Fatalf("error %d = %+v, want %+v", i, paged[i], all[i])
		}
	}
	page, err := e.s.UploadErrors(e.ctx, o.ID, u.ID, 2340, 10)
	must(t, err, "UploadErrors at the end")
	if len(page) != 5 || page[0] != all[2340] {
		t.Fatalf("last page = %d errors", len(page))
	}
	page, err = e.s.UploadErrors(e.ctx, o.ID, u.ID, 5000, 10)
	if err != nil || len(page) != 0 {
		t.Fatalf("UploadErrors past the end = %v, %v", page, err)
	}

	// Saving again replaces the list.
	must(t, e.s.SaveUploadResult(e.ctx, o.ID, u.ID, []byte(`{"error_count":3}`), 8, slices.Values(all[:3])), "SaveUploadResult again")
	page, err = e.s.UploadErrors(e.ctx, o.ID, u.ID, 0, 1000)
	if err != nil || len(page) != 3 || page[2] != all[2] {
		t.Fatalf("errors after saving 3: %d, %v", len(page), err)
	}
	must(t, e.s.SaveUploadResult(e.ctx, o.ID, u.ID, []byte(`{"error_count":0}`), 9, nil), "SaveUploadResult without errors")
	if page, _ = e.s.UploadErrors(e.ctx, o.ID, u.ID, 0, 1000); len(page) != 0 {
		t.Fatalf("errors after saving none: %d", len(page))
	}
	wantCode(t, e.s.SaveUploadResult(e.ctx, o.ID, "upl_00000000000000000000000000", nil, 0, nil), roster.ENOTFOUND, "SaveUploadResult(unknown)")
	_, err = e.s.UploadErrors(e.ctx, o.ID, "upl_00000000000000000000000000", 0, 10)
	wantCode(t, err, roster.ENOTFOUND, "UploadErrors(unknown)")
}

// testUploadErrorsOrder saves errors in a shuffled order, with ties at every level and
// values whose byte order differs from a locale's (case, accents, spaces), and reads them
// back in pages of an odd size: they come sorted by RowError.Less, equal keys in the order
// they were given.
func testUploadErrorsOrder(t *testing.T, e *env) {
	o := e.org(t, "acme")
	u := &roster.Upload{OrgID: o.ID, CreatedBy: "ann@acme.com", FileName: "people.csv", Status: roster.UploadValidated}
	must(t, e.s.CreateUpload(e.ctx, u, bytes.NewReader([]byte("a,b\n"))), "CreateUpload")
	r := rand.New(rand.NewPCG(7, 7))
	columns := []string{"", "nickname", roster.ColMembershipActive, roster.ColManagerEmail, roster.ColEmployeeEmail,
		roster.ColLastName, roster.ColFirstName, roster.ColDepartment}
	codes := []string{roster.CodeTooLong, roster.CodeInvalidEmail, roster.CodeDuplicateEmail, roster.CodeMissingRequired}
	values := []string{"", "a", "B", "b", "ab", "a b", "é", "e", "z", "Z", "ä", "-x", "_x", "10", "9"}
	in := make([]roster.RowError, 5000)
	for i := range in {
		in[i] = roster.RowError{Row: r.IntN(40), Column: columns[r.IntN(len(columns))], Code: codes[r.IntN(len(codes))],
			Value: values[r.IntN(len(values))], Message: fmt.Sprintf("message %d", i)}
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
	if slices.Equal(want, in) {
		t.Fatal("the input is already sorted: the test would prove nothing")
	}
	must(t, e.s.SaveUploadResult(e.ctx, o.ID, u.ID, []byte(`{}`), 1, slices.Values(in)), "SaveUploadResult")
	var got []roster.RowError
	for off := 0; off <= len(in); off += 37 {
		page, err := e.s.UploadErrors(e.ctx, o.ID, u.ID, off, 37)
		must(t, err, "UploadErrors")
		if want := min(37, max(len(in)-off, 0)); len(page) != want {
			t.Fatalf("page at %d has %d errors, want %d", off, len(page), want)
		}
		got = append(got, page...)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("error %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	all, err := e.s.UploadErrors(e.ctx, o.ID, u.ID, 0, 0)
	must(t, err, "UploadErrors(all)")
	if !slices.Equal(all, want) {
		t.Fatalf("all errors (%d) differ from the sorted input (%d)", len(all), len(want))
	}
	mid, err := e.s.UploadErrors(e.ctx, o.ID, u.ID, 4321, 0)
	must(t, err, "UploadErrors(from 4321, no limit)")
	if !slices.Equal(mid, want[4321:]) {
		t.Fatalf("errors from 4321 on: %d, want %d", len(mid), len(want)-4321)
	}

	// An iterator whose source fails cancels the context (as the web server's spill file
	// reader does): nothing of the failed save is kept.
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	failing := func(yield func(roster.RowError) bool) {
		for i, x := range rowErrors(1000) {
			if i == 500 {
				cancel()
				return
			}
			if !yield(x) {
				return
			}
		}
	}
	if err := e.s.SaveUploadResult(ctx, o.ID, u.ID, []byte(`{"partial":true}`), 2, failing); err == nil {
		t.Fatal("SaveUploadResult with a cancelled context succeeded")
	}
	got2, err := e.s.Upload(e.ctx, o.ID, u.ID)
	must(t, err, "Upload")
	if string(got2.Report) != `{}` || got2.BaseVersion != 1 {
		t.Fatalf("a failed save changed the upload: %+v", got2)
	}
	all, err = e.s.UploadErrors(e.ctx, o.ID, u.ID, 0, 0)
	must(t, err, "UploadErrors after a failed save")
	if !slices.Equal(all, want) {
		t.Fatalf("a failed save changed the errors: %d, want %d", len(all), len(want))
	}
	// And the store is usable afterwards: the half-written staging is gone.
	must(t, e.s.SaveUploadResult(e.ctx, o.ID, u.ID, []byte(`{}`), 3, slices.Values(in[:10])), "SaveUploadResult after a failed one")
	all, err = e.s.UploadErrors(e.ctx, o.ID, u.ID, 0, 0)
	must(t, err, "UploadErrors")
	if len(all) != 10 {
		t.Fatalf("%d errors after saving 10", len(all))
	}
}

func testUploadCommit(t *testing.T, e *env) {
	o := e.org(t, "acme")
	u := &roster.Upload{OrgID: o.ID, CreatedBy: "ann@acme.com", FileName: "people.csv", Status: roster.UploadValidated}
	must(t, e.s.CreateUpload(e.ctx, u, bytes.NewReader([]byte("a,b\n"))), "CreateUpload")
	b := e.importNew(t, o.ID, person("acme", 1))
	at := e.clock.Advance(time.Minute)
	must(t, e.s.MarkUploadCommitted(e.ctx, o.ID, u.ID, b.ID, []byte(`{"committed":true}`)), "MarkUploadCommitted")
	got, err := e.s.Upload(e.ctx, o.ID, u.ID)
	must(t, err, "Upload")
	if got.Status != roster.UploadCommitted || got.BatchID != b.ID || string(got.Report) != `{"committed":true}` {
		t.Fatalf("committed upload = %+v", got)
	}
	sameTime(t, "UpdatedAt after commit", got.UpdatedAt, at)
	wantCode(t, e.s.MarkUploadCommitted(e.ctx, o.ID, u.ID, "bat_other", []byte(`{}`)), roster.ECONFLICT, "committing twice")
	got, _ = e.s.Upload(e.ctx, o.ID, u.ID)
	if got.BatchID != b.ID {
		t.Fatalf("a second commit changed the batch to %s", got.BatchID)
	}
	// A report computed while the upload was being committed (another instance validating
	// it again) does not replace the committed one, nor its errors.
	wantCode(t, e.s.SaveUploadResult(e.ctx, o.ID, u.ID, []byte(`{"stale":true}`), 7,
		slices.Values([]roster.RowError{{Row: 2, Column: roster.ColFirstName, Code: roster.CodeMissingRequired, Message: "m"}})),
		roster.ECONFLICT, "SaveUploadResult of a committed upload")
	got, _ = e.s.Upload(e.ctx, o.ID, u.ID)
	if got.Status != roster.UploadCommitted || string(got.Report) != `{"committed":true}` || got.BatchID != b.ID {
		t.Fatalf("saving a result over a committed upload changed it: %+v", got)
	}
	if errs, err := e.s.UploadErrors(e.ctx, o.ID, u.ID, 0, 0); err != nil || len(errs) != 0 {
		t.Fatalf("saving a result over a committed upload left errors: %v, %v", errs, err)
	}
	wantCode(t, e.s.MarkUploadCommitted(e.ctx, o.ID, "upl_00000000000000000000000000", b.ID, nil), roster.ENOTFOUND, "MarkUploadCommitted(unknown)")
}

func testDeleteUploadsBefore(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	create := func(orgID, name string) *roster.Upload {
		u := &roster.Upload{OrgID: orgID, CreatedBy: "x", FileName: name, Status: roster.UploadValidated}
		must(t, e.s.CreateUpload(e.ctx, u, bytes.NewReader(randomFile(3, 1<<20+1))), "CreateUpload "+name)
		must(t, e.s.SaveUploadResult(e.ctx, orgID, u.ID, []byte(`{}`), 0, slices.Values(rowErrors(3))), "SaveUploadResult "+name)
		return u
	}
	t0 := e.clock.Now()
	stale := create(a.ID, "stale.csv")
	staleB := create(b.ID, "stale-b.csv") // every organization's stale uploads go
	committed := create(a.ID, "committed.csv")
	must(t, e.s.MarkUploadCommitted(e.ctx, a.ID, committed.ID, "bat_x", []byte(`{}`)), "MarkUploadCommitted")
	touched := create(a.ID, "touched.csv")
	e.clock.Advance(2 * time.Hour)
	must(t, e.s.SaveUploadResult(e.ctx, a.ID, touched.ID, []byte(`{}`), 1, nil), "SaveUploadResult later") // touched recently
	fresh := create(a.ID, "fresh.csv")

	n, err := e.s.DeleteUploadsBefore(e.ctx, t0.Add(time.Hour))
	must(t, err, "DeleteUploadsBefore")
	if n != 2 {
		t.Fatalf("DeleteUploadsBefore removed %d uploads, want 2 (the stale ones)", n)
	}
	for _, gone := range []*roster.Upload{stale, staleB} {
		_, err := e.s.Upload(e.ctx, gone.OrgID, gone.ID)
		wantCode(t, err, roster.ENOTFOUND, "Upload of a removed upload")
		_, err = e.s.OpenUploadFile(e.ctx, gone.OrgID, gone.ID)
		wantCode(t, err, roster.ENOTFOUND, "OpenUploadFile of a removed upload")
		_, err = e.s.UploadErrors(e.ctx, gone.OrgID, gone.ID, 0, 10)
		wantCode(t, err, roster.ENOTFOUND, "UploadErrors of a removed upload")
	}
	for _, kept := range []*roster.Upload{committed, touched, fresh} {
		if _, err := e.s.Upload(e.ctx, a.ID, kept.ID); err != nil {
			t.Fatalf("%s was removed: %v", kept.FileName, err)
		}
		if back := readAll(t, e, a.ID, kept.ID); len(back) != 1<<20+1 {
			t.Fatalf("%s's file has %d bytes", kept.FileName, len(back))
		}
	}
	if n, _ := e.s.DeleteUploadsBefore(e.ctx, t0.Add(time.Hour)); n != 0 {
		t.Fatalf("a second DeleteUploadsBefore removed %d", n)
	}
}
