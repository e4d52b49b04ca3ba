package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

func TestWizardErrorsThenFixThenCommit(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)

	page := b.get("/uploads/new")
	for _, want := range []string{"Download the CSV template", "employee_email", "membership_active", "Required", "Optional", `enctype="multipart/form-data"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("upload page lacks %q", want)
		}
	}
	if r := b.get("/template.csv"); !strings.HasPrefix(r.Body, "first_name,last_name,employee_email") || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("template: %q %q", r.Body, r.Header.Get("Content-Disposition"))
	}

	// 1. A file with errors: the resolve-errors view.
	r := b.uploadForm("people.csv", badCSV)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", r.StatusCode, r.Body)
	}
	loc := r.Header.Get("Location")
	r = b.get(loc)
	for _, want := range []string{"Resolve errors", "Missing required value", "Invalid email", "Invalid name", "Email domain not in your organization",
		"grace@acme", "Download errors (CSV)", "Rows to fix (CSV)", "Upload corrected file", "=HYPERLINK(1)"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("resolve-errors view lacks %q", want)
		}
	}
	if strings.Contains(r.Body, "/commit") {
		t.Error("a file with errors offers a commit")
	}
	csv := b.get(loc + "/errors.csv")
	if csv.StatusCode != 200 || !strings.Contains(csv.Header.Get("Content-Disposition"), "people-errors.csv") || !strings.Contains(csv.Body, "missing_required") {
		t.Fatalf("error CSV: %d %q\n%s", csv.StatusCode, csv.Header.Get("Content-Disposition"), csv.Body)
	}
	// The rows to fix, as the file had them, with what is wrong, safe for a spreadsheet.
	rows := b.get(loc + "/rows-with-errors.csv")
	wantRows := "first_name,last_name,employee_email,source_row,errors\r\n" +
		"Grace,,grace@acme,3,"
	if rows.StatusCode != 200 || !strings.Contains(rows.Header.Get("Content-Disposition"), "people-rows-with-errors.csv") ||
		!strings.HasPrefix(rows.Body, wantRows) || !strings.Contains(rows.Body, "'=HYPERLINK(1),Smith,eve@other.com,4,") ||
		strings.Contains(rows.Body, "Ada") || strings.Count(rows.Body, "\r\n") != 3 {
		t.Fatalf("rows with errors: %d %q\n%s", rows.StatusCode, rows.Header.Get("Content-Disposition"), rows.Body)
	}
	// Header problems name the header's row, wherever it is (blank lines first here), in
	// the errors and in the warnings alike.
	hr := b.get(b.uploadForm("late.csv", "\n\nfirst_name,last_name,Shoe Size\nAda,L,42\n").Header.Get("Location"))
	if c := strings.Count(hr.Body, `3 <span class="muted">header</span>`); c != 2 {
		t.Errorf("the header on row 3: %d labels, want 2 (missing column, unknown column)", c)
	}
	// A file that is not a table has no rows to fix: no link, and the URL says why.
	r = b.uploadForm("photo.csv", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	photo := r.Header.Get("Location")
	if r := b.get(photo); !strings.Contains(r.Body, "Resolve errors") || strings.Contains(r.Body, "Rows to fix (CSV)") {
		t.Errorf("an unreadable file's errors page offers rows to fix, or is not the errors page:\n%.500s", r.Body)
	}
	if r := b.get(photo + "/rows-with-errors.csv"); r.StatusCode != http.StatusConflict || !strings.Contains(r.Body, "no rows to download") {
		t.Errorf("rows with errors of an unreadable file: %d\n%.500s", r.StatusCode, r.Body)
	}
	// Committing it anyway writes nothing and lands back on the errors.
	tok := b.csrf("/uploads/new")
	if r := b.post(loc+"/commit", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != loc {
		t.Fatalf("commit of a bad file: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	id := strings.TrimPrefix(loc, "/uploads/")
	if r := b.get("/uploads/new?replace=" + id); !strings.Contains(r.Body, "Upload the corrected file") {
		t.Error("re-upload page does not name the file it replaces")
	}

	// 2. The fixed file: the preview, with new and changed learners.
	e.seedLearners(tn.Org.ID, roster.Learner{Email: "grace@acme.com", FirstName: "Grace", LastName: "Hopper", Department: "Navy"})
	fixed := "first_name,last_name,employee_email,department\r\n" +
		"Ada,Lovelace,ada@acme.com,Engineering\r\n" +
		"Grace,Hopper,grace@acme.com,Engineering\r\n"
	r = b.uploadForm("people-fixed.csv", fixed)
	loc = r.Header.Get("Location")
	r = b.get(loc)
	for _, want := range []string{"Preview changes", "New learners", "Changed learners", "ada@acme.com", "Navy", "Engineering", "Upload learners", `action="` + loc + `/commit"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("preview lacks %q", want)
		}
	}

	// 3. Commit, twice (a double click): one batch, a result page.
	tok = b.csrf(loc)
	for i := 0; i < 2; i++ {
		r := b.post(loc+"/commit", url.Values{"csrf": {tok}})
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != loc {
			t.Fatalf("commit %d: %d %q", i, r.StatusCode, r.Header.Get("Location"))
		}
	}
	r = b.get(loc)
	if !strings.Contains(r.Body, "Import complete") || !strings.Contains(r.Body, "people-fixed.csv") {
		t.Fatalf("result page:\n%s", r.Body)
	}
	bs, _ := e.store.ImportBatches(context.Background(), tn.Org.ID, 10)
	if len(bs) != 2 { // the seed and the upload
		t.Fatalf("%d batches, want 2", len(bs))
	}
	if r := b.get("/imports"); !strings.Contains(r.Body, "people-fixed.csv") || !strings.Contains(r.Body, tn.Admin.Email) {
		t.Fatal("import history lacks the batch")
	}
	if r := b.get("/imports/" + bs[0].ID); r.StatusCode != 200 || !strings.Contains(r.Body, bs[0].SHA256) {
		t.Fatalf("import page: %d", r.StatusCode)
	}
	r = b.get("/learners")
	if !strings.Contains(r.Body, "ada@acme.com") || !strings.Contains(r.Body, "Lovelace") {
		t.Fatal("learners tab lacks the new learner")
	}
}

func TestWizardStaleCommitRevalidates(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	loc := b.uploadForm("people.csv", goodCSV).Header.Get("Location")
	if !strings.Contains(b.get(loc).Body, "Preview changes") {
		t.Fatal("no preview")
	}
	// Another admin commits first.
	a := e.api(tn.Token)
	other := decode[roster.ImportReport](t, a.upload("other.csv", goodCSV))
	a.do("POST", "/api/v1/uploads/"+other.ID+"/commit", nil, "")

	tok := b.csrf(loc)
	r := b.post(loc+"/commit", url.Values{"csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "flash=stale") {
		t.Fatalf("stale commit: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.get(r.Header.Get("Location"))
	if !strings.Contains(r.Body, "checked again") || !strings.Contains(r.Body, "Nothing to change") {
		t.Fatalf("stale preview:\n%s", r.Body)
	}
	bs, _ := e.store.ImportBatches(context.Background(), tn.Org.ID, 10)
	if len(bs) != 1 {
		t.Fatalf("%d batches, want 1 (the stale plan must not be written)", len(bs))
	}
}

func TestWizardFetchUploadAndProgress(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	tok := b.csrf("/uploads/new")
	body, ct := multipartBody(nil, "people.csv", goodCSV)
	req, _ := http.NewRequest("POST", e.ts.URL+"/uploads", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Requested-With", "fetch")
	req.Header.Set("X-CSRF-Token", tok)
	r := b.do(req)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("fetch upload: %d\n%s", r.StatusCode, r.Body)
	}
	var created struct {
		ID        string `json:"id"`
		StatusURL string `json:"status_url"`
	}
	json.Unmarshal([]byte(r.Body), &created)
	var st struct {
		Done bool
		URL  string
	}
	deadline := time.Now().Add(10 * time.Second)
	for !st.Done && time.Now().Before(deadline) {
		json.Unmarshal([]byte(b.get(created.StatusURL).Body), &st)
		time.Sleep(20 * time.Millisecond)
	}
	if !st.Done || st.URL != "/uploads/"+created.ID {
		t.Fatalf("status never done: %+v", st)
	}
	if !strings.Contains(b.get(st.URL).Body, "Preview changes") {
		t.Fatal("no preview after the background validation")
	}
	// Without the CSRF header: refused, as JSON for the script.
	body, ct = multipartBody(nil, "people.csv", goodCSV)
	req, _ = http.NewRequest("POST", e.ts.URL+"/uploads", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Requested-With", "fetch")
	apiError(t, b.do(req), http.StatusForbidden, "forbidden")
	// A wrong content type on the page route: 415 as a page.
	r = b.post("/uploads", url.Values{"csrf": {tok}})
	if r.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form post without a file: %d", r.StatusCode)
	}
}

func TestWizardErrorPaging(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	var sb strings.Builder
	sb.WriteString("first_name,last_name,employee_email\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&sb, "A,B,x%d@elsewhere.com\n", i)
	}
	loc := b.uploadForm("many.csv", sb.String()).Header.Get("Location")
	r := b.get(loc)
	if !strings.Contains(r.Body, "Errors 1–50 of 120") || !strings.Contains(r.Body, "Page 1 of 3") || !strings.Contains(r.Body, "x0@elsewhere.com") {
		t.Fatalf("first page:\n%s", r.Body)
	}
	r = b.get(loc + "?page=3")
	if !strings.Contains(r.Body, "Errors 101–120 of 120") || !strings.Contains(r.Body, "x119@elsewhere.com") || strings.Contains(r.Body, "x0@elsewhere.com<") {
		t.Fatalf("last page:\n%s", r.Body)
	}
	if r := b.get(loc + "?page=abc"); r.StatusCode != 400 {
		t.Fatalf("bad page number: %d", r.StatusCode)
	}
}

func TestLearnersTab(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	var ls []roster.Learner
	for i := 0; i < 60; i++ {
		dept := "Engineering"
		if i%3 == 0 {
			dept = "Sales"
		}
		ls = append(ls, roster.Learner{Email: fmt.Sprintf("p%02d@acme.com", i), FirstName: fmt.Sprintf("P%02d", i), LastName: "Person",
			Department: dept, Location: "Paris", Active: i%2 == 0})
	}
	ls = append(ls, roster.Learner{Email: "evil@acme.com", FirstName: "Eve", LastName: "Formula", JobTitle: "=HYPERLINK(\"http://x\")", Department: "Sales", Location: "Rome"})
	e.seedLearners(tn.Org.ID, ls...)
	b := e.browser()
	b.signIn(tn)

	r := b.get("/learners")
	if c := strings.Count(r.Body, `href="/learners/lrn_`); c != 50 {
		t.Fatalf("first page shows %d learners, want 50", c)
	}
	next := regexpNext.FindStringSubmatch(r.Body)
	if next == nil {
		t.Fatal("no next page link")
	}
	if regexpPrev.MatchString(r.Body) {
		t.Fatal("the first page has a previous page link")
	}
	if !strings.Contains(r.Body, `<span id="learner-total">61 learners</span>`) {
		t.Fatal("the Learners tab does not say how many learners there are")
	}
	// The filters suggest the organization's departments and locations, in order.
	if !strings.Contains(r.Body, `<datalist id="department-options"><option value="Engineering"><option value="Sales"></datalist>`) ||
		!strings.Contains(r.Body, `<datalist id="location-options"><option value="Paris"><option value="Rome"></datalist>`) {
		t.Fatal("no department and location suggestions on the Learners tab")
	}
	firstPage := learnerLinks.FindAllString(r.Body, -1)
	r = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if c := strings.Count(r.Body, `href="/learners/lrn_`); c != 11 || regexpNext.MatchString(r.Body) {
		t.Fatalf("second page shows %d learners (want 11) and next=%v", c, regexpNext.MatchString(r.Body))
	}
	// Previous page: back to the same 50 learners, in the same order, without a previous link.
	prev := regexpPrev.FindStringSubmatch(r.Body)
	if prev == nil {
		t.Fatal("no previous page link on the second page")
	}
	r = b.get(strings.ReplaceAll(prev[1], "&amp;", "&"))
	if back := learnerLinks.FindAllString(r.Body, -1); !slices.Equal(back, firstPage) || regexpPrev.MatchString(r.Body) || !regexpNext.MatchString(r.Body) {
		t.Fatalf("previous page: %d learners (first page had %d), same order %v, prev link %v, next link %v",
			len(back), len(firstPage), slices.Equal(back, firstPage), regexpPrev.MatchString(r.Body), regexpNext.MatchString(r.Body))
	}
	r = b.get("/learners?department=Sales&location=Rome")
	if c := strings.Count(r.Body, `href="/learners/lrn_`); c != 1 || !strings.Contains(r.Body, "evil@acme.com") {
		t.Fatalf("filter: %d", c)
	}
	r = b.get("/learners?q=P07")
	if c := strings.Count(r.Body, `href="/learners/lrn_`); c != 1 {
		t.Fatalf("search: %d", c)
	}
	r = b.get("/learners?status=active&sort=email&order=desc")
	if !strings.Contains(r.Body, `aria-sort="descending"`) || strings.Index(r.Body, "p58@acme.com") > strings.Index(r.Body, "p00@acme.com") {
		t.Fatal("sorted descending by email")
	}
	if r := b.get("/learners?sort=salary"); r.StatusCode != 400 {
		t.Fatalf("bad sort: %d", r.StatusCode)
	}
	if r := b.get("/learners?q=nobody-at-all"); !strings.Contains(r.Body, "No learners match") {
		t.Fatal("empty result message")
	}

	// Export: the whole filtered view, formula cells neutralised.
	r = b.get("/learners/export.csv?department=Sales")
	lines := strings.Split(strings.TrimSpace(r.Body), "\r\n")
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || len(lines) != 1+21 {
		t.Fatalf("export: %q, %d lines", r.Header.Get("Content-Type"), len(lines))
	}
	if !strings.Contains(r.Body, `"'=HYPERLINK(""http://x"")"`) {
		t.Fatalf("export does not neutralise formulas:\n%s", r.Body)
	}
	if r := b.get("/learners/export.csv"); strings.Count(r.Body, "\r\n") != 62 {
		t.Fatalf("full export has %d lines, want 62", strings.Count(r.Body, "\r\n"))
	}

	// A learner's page.
	page, _ := e.store.Learners(context.Background(), tn.Org.ID, roster.LearnerFilter{Query: "evil"})
	r = b.get("/learners/" + page.Learners[0].ID)
	for _, want := range []string{"Eve Formula", "evil@acme.com", "Rome", "File upload", "seed.csv", "Import batches"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("learner page lacks %q", want)
		}
	}
	if r := b.get("/learners/lrn_nope"); r.StatusCode != 404 {
		t.Fatalf("unknown learner: %d", r.StatusCode)
	}

	// An import moves the organization's version: the suggestions follow (not a stale cache).
	e.seedLearners(tn.Org.ID, roster.Learner{Email: "new@acme.com", FirstName: "New", LastName: "Hire", Department: "Legal", Location: "Oslo"})
	if r := b.get("/learners"); !strings.Contains(r.Body, `<option value="Legal">`) || !strings.Contains(r.Body, `<option value="Oslo">`) ||
		!strings.Contains(r.Body, `<span id="learner-total">62 learners</span>`) {
		t.Fatal("the total and the suggestions did not follow an import")
	}

	// From an import to the learners it wrote: the newest batch added new@acme.com only.
	bs, err := e.store.ImportBatches(context.Background(), tn.Org.ID, 1)
	if err != nil || len(bs) != 1 {
		t.Fatalf("import batches: %v %v", bs, err)
	}
	if r := b.get("/imports/" + bs[0].ID); !strings.Contains(r.Body, `href="/learners?batch=`+bs[0].ID+`"`) {
		t.Fatal("the import page does not link to its learners")
	}
	r = b.get("/learners?batch=" + bs[0].ID)
	if c := strings.Count(r.Body, `href="/learners/lrn_`); c != 1 || !strings.Contains(r.Body, "new@acme.com") ||
		!strings.Contains(r.Body, `id="batch-filter"`) || !strings.Contains(r.Body, bs[0].FileName) {
		t.Fatalf("learners of the batch: %d rows, note %v", c, strings.Contains(r.Body, `id="batch-filter"`))
	}
	if r := b.get("/learners?batch=bat_nope"); r.StatusCode != 200 || strings.Count(r.Body, `href="/learners/lrn_`) != 0 {
		t.Fatalf("unknown batch: %d", r.StatusCode)
	}
}

var (
	regexpNext   = mustRE(`href="(/learners\?[^"]*cursor=[^"]*)" rel="next"`)
	regexpPrev   = mustRE(`href="(/learners\?[^"]*cursor=[^"]*)" rel="prev"`)
	learnerLinks = mustRE(`href="/learners/lrn_[0-9a-z]+"`)
)
