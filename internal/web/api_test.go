package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

const goodCSV = "first_name,last_name,employee_email,employee_id,department,location\r\n" +
	"Ada,Lovelace,ada@acme.com,E1,Engineering,London\r\n" +
	"Grace,Hopper,grace@acme.com,E2,Engineering,Arlington\r\n" +
	"José,Núñez,jose@acme.com,E3,Sales,Madrid\r\n"

const badCSV = "first_name,last_name,employee_email\r\n" +
	"Ada,Lovelace,ada@acme.com\r\n" +
	"Grace,,grace@acme\r\n" +
	"=HYPERLINK(1),Smith,eve@other.com\r\n"

func TestAPIUploadCommitFlow(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	a := e.api(tn.Token)

	r := a.upload("people.csv", goodCSV)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d\n%s", r.StatusCode, r.Body)
	}
	rep := decode[roster.ImportReport](t, r)
	if rep.ID == "" || !rep.Valid || rep.Rows != 3 || rep.Summary.New != 3 || rep.Committed || rep.File.Name != "people.csv" {
		t.Fatalf("report %+v", rep)
	}
	if r.Header.Get("Location") != "/api/v1/uploads/"+rep.ID {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	if !strings.Contains(r.Body, `"errors": []`) || !strings.Contains(r.Body, `"warnings": []`) {
		t.Fatalf("errors and warnings must be [] when empty:\n%s", r.Body)
	}
	got := decode[roster.ImportReport](t, a.get("/api/v1/uploads/"+rep.ID))
	if got.ID != rep.ID || got.Summary != rep.Summary {
		t.Fatalf("GET upload: %+v", got)
	}

	r = a.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", nil, "")
	if r.StatusCode != 200 {
		t.Fatalf("commit: %d\n%s", r.StatusCode, r.Body)
	}
	done := decode[roster.ImportReport](t, r)
	if !done.Committed || done.BatchID == "" || done.Summary.New != 3 {
		t.Fatalf("committed report %+v", done)
	}
	// Committing again writes nothing and answers the same.
	again := decode[roster.ImportReport](t, a.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", nil, ""))
	if again.BatchID != done.BatchID || !again.Committed {
		t.Fatalf("second commit %+v", again)
	}
	bs := decode[struct{ Imports []roster.ImportBatch }](t, a.get("/api/v1/imports"))
	if len(bs.Imports) != 1 || bs.Imports[0].ID != done.BatchID || bs.Imports[0].New != 3 || bs.Imports[0].CreatedBy != "api:test" {
		t.Fatalf("imports %+v", bs.Imports)
	}
	if b := decode[roster.ImportBatch](t, a.get("/api/v1/imports/"+done.BatchID)); b.FileName != "people.csv" {
		t.Fatalf("import %+v", b)
	}

	// Learners: pages by cursor until null.
	var emails []string
	cursor := ""
	for i := 0; i < 5; i++ {
		page := decode[struct {
			Learners   []roster.Learner `json:"learners"`
			NextCursor *string          `json:"next_cursor"`
		}](t, a.get("/api/v1/learners?limit=2&sort=email&cursor="+cursor))
		for _, l := range page.Learners {
			emails = append(emails, l.Email)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if strings.Join(emails, " ") != "ada@acme.com grace@acme.com jose@acme.com" {
		t.Fatalf("paged emails %v", emails)
	}
	// The last page leads back to the first: the same two learners, no previous cursor.
	last := decode[struct {
		PrevCursor *string `json:"prev_cursor"`
	}](t, a.get("/api/v1/learners?limit=2&sort=email&cursor="+cursor))
	if last.PrevCursor == nil {
		t.Fatal("the second page has no prev_cursor")
	}
	first := decode[struct {
		Learners   []roster.Learner `json:"learners"`
		PrevCursor *string          `json:"prev_cursor"`
	}](t, a.get("/api/v1/learners?limit=2&sort=email&cursor="+*last.PrevCursor))
	if len(first.Learners) != 2 || first.Learners[0].Email != "ada@acme.com" || first.Learners[1].Email != "grace@acme.com" || first.PrevCursor != nil {
		t.Fatalf("previous page %+v, prev_cursor %v", first.Learners, first.PrevCursor)
	}
	page := decode[struct{ Learners []roster.Learner }](t, a.get("/api/v1/learners?q=n%C3%BA%C3%B1ez"))
	if len(page.Learners) != 1 || page.Learners[0].FirstName != "José" {
		t.Fatalf("search: %+v", page.Learners)
	}
	l := decode[roster.Learner](t, a.get("/api/v1/learners/"+page.Learners[0].ID))
	if l.Email != "jose@acme.com" || l.Department != "Sales" || l.CreatedBatchID != done.BatchID {
		t.Fatalf("learner %+v", l)
	}
	if r := a.get("/api/v1/learners?status=active"); !strings.Contains(r.Body, `"learners": []`) || !strings.Contains(r.Body, `"next_cursor": null`) {
		t.Fatalf("empty page must be [] and null:\n%s", r.Body)
	}

	// The template.
	r = a.get("/api/v1/template.csv")
	if r.StatusCode != 200 || r.Body != "first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email,membership_active\r\n" {
		t.Fatalf("template: %d %q", r.StatusCode, r.Body)
	}
}

func TestAPIUploadWithErrors(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	a := e.api(tn.Token)
	r := a.upload("bad.csv", badCSV)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d\n%s", r.StatusCode, r.Body)
	}
	rep := decode[roster.ImportReport](t, r)
	if rep.Valid || rep.ErrorCount < 4 || len(rep.Errors) != rep.ErrorCount {
		t.Fatalf("report %+v", rep)
	}
	apiError(t, a.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", nil, ""), http.StatusConflict, "conflict")

	r = a.get("/api/v1/uploads/" + rep.ID + "/errors.csv")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("errors.csv: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimRight(r.Body, "\r\n"), "\r\n")
	if lines[0] != "row,column,code,value,message" || len(lines) != rep.ErrorCount+1 {
		t.Fatalf("errors.csv has %d lines for %d errors:\n%s", len(lines), rep.ErrorCount, r.Body)
	}
	if !strings.Contains(r.Body, "'=HYPERLINK(1)") {
		t.Fatalf("errors.csv does not neutralise a formula:\n%s", r.Body)
	}
	for _, code := range []string{"missing_required", "invalid_email", "invalid_name", "unrecognized_domain"} {
		if !strings.Contains(r.Body, ","+code+",") {
			t.Errorf("errors.csv lacks %s", code)
		}
	}
	if n, _ := e.store.Lookup(tn.Org.ID).CountLearners(context.Background()); n != 0 {
		t.Fatalf("%d learners written from an invalid file", n)
	}
}

func TestAPIErrorCSVPages(t *testing.T) {
	// More errors than one page of the store: the CSV has them all, with one header.
	e := newEnv(t)
	tn := e.tenant("acme")
	var b strings.Builder
	b.WriteString("first_name,last_name,employee_email\n")
	const n = 10_050
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "A,B,x%d@nowhere.com\n", i)
	}
	a := e.api(tn.Token)
	rep := decode[roster.ImportReport](t, a.upload("big.csv", b.String()))
	if rep.ErrorCount != n || len(rep.Errors) != roster.MaxReportedErrors {
		t.Fatalf("error_count %d, listed %d", rep.ErrorCount, len(rep.Errors))
	}
	body := a.get("/api/v1/uploads/" + rep.ID + "/errors.csv").Body
	if got := strings.Count(body, "\r\n"); got != n+1 {
		t.Fatalf("errors.csv has %d lines, want %d", got, n+1)
	}
	if strings.Count(body, "row,column,code") != 1 {
		t.Fatal("the header is repeated")
	}
}

func TestAPIBadInput(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits.MaxBytes = 4 << 10 })
	tn := e.tenant("acme")
	a := e.api(tn.Token)

	apiError(t, e.api("").get("/api/v1/learners"), 401, "unauthorized")
	apiError(t, e.api("rst_nope").get("/api/v1/learners"), 401, "unauthorized")
	apiError(t, a.get("/api/v1/nothing"), 404, "not_found")
	apiError(t, e.api("").get("/api/v1/nothing"), 404, "not_found")
	r := a.do("DELETE", "/api/v1/learners", nil, "")
	apiError(t, r, 405, "method_not_allowed")
	if r.Header.Get("Allow") != "GET" {
		t.Fatalf("Allow %q", r.Header.Get("Allow"))
	}
	apiError(t, a.get("/api/v1/learners/lrn_nope"), 404, "not_found")
	apiError(t, a.get("/api/v1/uploads/upl_nope"), 404, "not_found")
	apiError(t, a.get("/api/v1/imports/bat_nope"), 404, "not_found")
	apiError(t, a.get("/api/v1/learners?limit=0"), 400, "invalid")
	apiError(t, a.get("/api/v1/learners?limit=abc"), 400, "invalid")
	apiError(t, a.get("/api/v1/learners?sort=salary"), 400, "invalid")
	apiError(t, a.get("/api/v1/learners?status=sleeping"), 400, "invalid")
	apiError(t, a.get("/api/v1/learners?cursor=%21%21garbage"), 400, "invalid")
	apiError(t, a.get("/api/v1/imports?limit=-1"), 400, "invalid")

	// Uploads: wrong content type, no file, empty file name, too large, truncated.
	apiError(t, a.do("POST", "/api/v1/uploads", strings.NewReader(goodCSV), "text/csv"), 415, "unsupported_media_type")
	apiError(t, a.do("POST", "/api/v1/uploads", strings.NewReader("{}"), "application/json"), 415, "unsupported_media_type")
	apiError(t, a.do("POST", "/api/v1/uploads", strings.NewReader(""), ""), 415, "unsupported_media_type")
	body, ct := multipartBody(map[string]string{"other": "x"}, "", "")
	apiError(t, a.do("POST", "/api/v1/uploads", body, ct), 400, "invalid")
	body, ct = multipartBody(nil, "people.csv", strings.Repeat("a,b,c\n", 2000))
	apiError(t, a.do("POST", "/api/v1/uploads", body, ct), 413, "too_large")
	// Too large, announced by Content-Length or not (chunked).
	body, ct = multipartBody(nil, "people.csv", strings.Repeat("a,b,c\n", 300_000))
	apiError(t, a.do("POST", "/api/v1/uploads", struct{ *strings.Reader }{strings.NewReader(body.String())}, ct), 413, "too_large")
	body, ct = multipartBody(nil, "people.csv", goodCSV)
	cut := body.String()[:body.Len()-30]
	apiError(t, a.do("POST", "/api/v1/uploads", strings.NewReader(cut), ct), 400, "invalid")
	apiError(t, a.do("POST", "/api/v1/uploads", strings.NewReader("garbage"), "multipart/form-data; boundary=xyz"), 400, "invalid")
	apiError(t, a.do("POST", "/api/v1/uploads", strings.NewReader("x"), "multipart/form-data"), 400, "invalid")

	// A file the importer cannot read is a report, not an HTTP error.
	r = a.upload("photo.csv", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	if r.StatusCode != 201 || !strings.Contains(r.Body, "unsupported_format") {
		t.Fatalf("a picture: %d\n%s", r.StatusCode, r.Body)
	}

	// Commit bodies: bad JSON, wrong type, unknown field, wrong checksum.
	rep := decode[roster.ImportReport](t, a.upload("people.csv", goodCSV))
	commit := "/api/v1/uploads/" + rep.ID + "/commit"
	apiError(t, a.do("POST", commit, strings.NewReader("{not json"), "application/json"), 400, "invalid")
	apiError(t, a.do("POST", commit, strings.NewReader(`{"sha256": 5}`), "application/json"), 400, "invalid")
	apiError(t, a.do("POST", commit, strings.NewReader(`{"nope": 1}`), "application/json"), 400, "invalid")
	apiError(t, a.do("POST", commit, strings.NewReader(`{}{}`), "application/json"), 400, "invalid")
	apiError(t, a.do("POST", commit, strings.NewReader(`sha256=x`), "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
	apiError(t, a.do("POST", commit, strings.NewReader(`{"sha256": "00"}`), "application/json"), 409, "conflict")
	// The messages speak JSON, not Go.
	for body, want := range map[string]string{
		`{"sha256": 5}`: `The field \"sha256\" must be a string.`,
		`[]`:            `The body must be a JSON object.`,
		`{"nope": 1}`:   `a field this request does not take: \"nope\"`,
		`{"sha256"`:     `it ends too soon`,
	} {
		r := a.do("POST", commit, strings.NewReader(body), "application/json")
		if r.StatusCode != 400 || !strings.Contains(r.Body, want) || strings.Contains(r.Body, "Go ") || strings.Contains(r.Body, "commitRequest") {
			t.Errorf("commit body %s: %d %s, want a message with %s", body, r.StatusCode, r.Body, want)
		}
	}
	r = a.do("POST", commit, strings.NewReader(`{"sha256": "`+rep.File.SHA256+`"}`), "application/json")
	if r.StatusCode != 200 {
		t.Fatalf("commit with the right checksum: %d\n%s", r.StatusCode, r.Body)
	}
	// A chunked request with no body is a commit without one, not a wrong content type.
	// (net/http sends a body it cannot measure chunked when its first byte takes more than
	// 200 ms to come; this one never comes.)
	pr, pw := io.Pipe()
	go func() { time.Sleep(300 * time.Millisecond); pw.Close() }()
	other := decode[roster.ImportReport](t, a.upload("other.csv", strings.Replace(goodCSV, "Sales", "Legal", 1)))
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/uploads/"+other.ID+"/commit", pr)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a chunked commit without a body: %d %s", resp.StatusCode, b)
	}
}

func TestAPICommitStale(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	a := e.api(tn.Token)
	first := decode[roster.ImportReport](t, a.upload("a.csv", goodCSV))
	second := decode[roster.ImportReport](t, a.upload("b.csv", strings.Replace(goodCSV, "Sales", "Marketing", 1)))
	if second.Summary.New != 3 {
		t.Fatalf("second preview %+v", second.Summary)
	}
	if r := a.do("POST", "/api/v1/uploads/"+first.ID+"/commit", nil, ""); r.StatusCode != 200 {
		t.Fatalf("first commit %d", r.StatusCode)
	}
	// The second preview said "3 new"; that is no longer true, so it is validated again.
	apiError(t, a.do("POST", "/api/v1/uploads/"+second.ID+"/commit", nil, ""), 409, "stale")
	fresh := decode[roster.ImportReport](t, a.get("/api/v1/uploads/"+second.ID))
	if fresh.Summary.New != 0 || fresh.Summary.Updated != 1 || fresh.Summary.Unchanged != 2 {
		t.Fatalf("re-validated summary %+v", fresh.Summary)
	}
	done := decode[roster.ImportReport](t, a.do("POST", "/api/v1/uploads/"+second.ID+"/commit", nil, ""))
	if !done.Committed || done.Summary.Updated != 1 {
		t.Fatalf("commit after re-validation %+v", done)
	}
}

func TestAPIConcurrentCommitWritesOnce(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	a := e.api(tn.Token)
	rep := decode[roster.ImportReport](t, a.upload("a.csv", goodCSV))
	var wg sync.WaitGroup
	codes := make([]int, 5)
	batches := make([]string, 5)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := a.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", nil, "")
			codes[i] = r.StatusCode
			var x roster.ImportReport
			json.Unmarshal([]byte(r.Body), &x)
			batches[i] = x.BatchID
		}(i)
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 200 || batches[i] != batches[0] || batches[0] == "" {
			t.Fatalf("commit %d: %d batch %q (first %q)", i, codes[i], batches[i], batches[0])
		}
	}
	bs, _ := e.store.ImportBatches(context.Background(), tn.Org.ID, 10)
	if len(bs) != 1 {
		t.Fatalf("%d batches from 5 concurrent commits, want 1", len(bs))
	}
}

// TestOpenAPIMatchesRoutes holds the document and the router to each other.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.api("").get("/api/v1/openapi.json")
	if r.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", r.StatusCode)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(r.Body), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v %q", err, doc.OpenAPI)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, rt := range e.srv.apiRoutes() {
		routed = append(routed, rt.Method+" "+rt.Path)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Fatalf("documented:\n%s\n\nrouted:\n%s", strings.Join(documented, "\n"), strings.Join(routed, "\n"))
	}
	// Every routed pattern really is served by the mux (not by the 404 catch-all).
	for _, rt := range e.srv.apiRoutes() {
		req, _ := http.NewRequest(rt.Method, strings.ReplaceAll(rt.Path, "{id}", "x"), nil)
		if _, pattern := e.srv.mux.Handler(req); pattern != rt.Method+" "+rt.Path {
			t.Errorf("%s %s is served by %q", rt.Method, rt.Path, pattern)
		}
	}
	// Every $ref resolves.
	for _, m := range regexpRef.FindAllStringSubmatch(r.Body, -1) {
		if !strings.Contains(r.Body, `"`+m[1]+`": {`) {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
}

var regexpRef = mustRE(`"#/components/schemas/(\w+)"`)
