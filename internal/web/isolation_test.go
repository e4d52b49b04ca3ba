package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
)

// TestOrgIsolation: an admin or a token of organization A gets 404 for every learner,
// upload, batch, token and page of organization B, and B's things stay untouched.
func TestOrgIsolation(t *testing.T) {
	e := newEnv(t)
	ta, tb := e.tenant("alpha"), e.tenant("bravo")
	bAPI := e.api(tb.Token)

	// B has a committed upload (a batch and learners), an open upload and a token.
	committed := decode[roster.ImportReport](t, bAPI.upload("b.csv", strings.ReplaceAll(goodCSV, "acme.com", "bravo.com")))
	done := decode[roster.ImportReport](t, bAPI.do("POST", "/api/v1/uploads/"+committed.ID+"/commit", nil, ""))
	if !done.Committed {
		t.Fatalf("B's commit: %+v", done)
	}
	open := decode[roster.ImportReport](t, bAPI.upload("b2.csv", "first_name,last_name,employee_email\nZed,Zulu,zed@bravo.com\n"))
	bad := decode[roster.ImportReport](t, bAPI.upload("b3.csv", badCSV))
	page, err := e.store.Learners(context.Background(), tb.Org.ID, roster.LearnerFilter{})
	if err != nil || len(page.Learners) != 3 {
		t.Fatalf("B's learners: %v %v", page, err)
	}
	bLearner := page.Learners[0].ID
	bTokens, _ := e.store.Tokens(context.Background(), tb.Org.ID)

	// A's token on B's things.
	aAPI := e.api(ta.Token)
	for _, p := range []string{
		"/api/v1/learners/" + bLearner,
		"/api/v1/uploads/" + committed.ID,
		"/api/v1/uploads/" + open.ID,
		"/api/v1/uploads/" + bad.ID + "/errors.csv",
		"/api/v1/imports/" + done.BatchID,
	} {
		apiError(t, aAPI.get(p), http.StatusNotFound, "not_found")
	}
	apiError(t, aAPI.do("POST", "/api/v1/uploads/"+open.ID+"/commit", nil, ""), http.StatusNotFound, "not_found")
	for _, p := range []string{"/api/v1/learners", "/api/v1/imports", "/api/v1/learners?q=bravo"} {
		if r := aAPI.get(p); r.StatusCode != 200 || strings.Contains(r.Body, "@bravo.com") {
			t.Errorf("GET %s as A: %d, leaks B: %v", p, r.StatusCode, strings.Contains(r.Body, "@bravo.com"))
		}
	}

	// A's admin on B's pages.
	b := e.browser()
	b.signIn(ta)
	for _, p := range []string{
		"/learners/" + bLearner,
		"/uploads/" + committed.ID,
		"/uploads/" + open.ID,
		"/uploads/" + bad.ID,
		"/uploads/" + bad.ID + "?page=2",
		"/uploads/" + bad.ID + "/errors.csv",
		"/uploads/" + open.ID + "/status",
		"/imports/" + done.BatchID,
	} {
		if r := b.get(p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s as A's admin: %d, want 404", p, r.StatusCode)
		}
	}
	tok := b.csrf("/settings")
	if r := b.post("/uploads/"+open.ID+"/commit", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("commit B's upload as A's admin: %d, want 404", r.StatusCode)
	}
	for _, x := range bTokens {
		if r := b.post("/settings/tokens/"+x.ID+"/revoke", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusNotFound {
			t.Errorf("revoke B's token as A's admin: %d, want 404", r.StatusCode)
		}
	}
	for _, p := range []string{"/learners", "/imports", "/settings", "/learners/export.csv", "/learners?q=bravo"} {
		if r := b.get(p); r.StatusCode != 200 || strings.Contains(r.Body, "@bravo.com") {
			t.Errorf("GET %s as A's admin: %d, leaks B: %v", p, r.StatusCode, strings.Contains(r.Body, "@bravo.com"))
		}
	}

	// B is untouched: its open upload is not committed, its token still works.
	if u, err := e.store.Upload(context.Background(), tb.Org.ID, open.ID); err != nil || u.Status != roster.UploadValidated {
		t.Fatalf("B's open upload: %+v %v", u, err)
	}
	if r := bAPI.get("/api/v1/learners"); r.StatusCode != 200 {
		t.Fatalf("B's token after A's attempts: %d", r.StatusCode)
	}

	// Identifiers are not guessable: a prefix, then 26 characters of which 80 bits are random.
	ids := []string{committed.ID, open.ID, bad.ID, bLearner, done.BatchID}
	for _, id := range ids {
		if i := strings.IndexByte(id, '_'); i < 0 || len(id)-i-1 < 26 {
			t.Errorf("id %q is too short to be unguessable", id)
		}
	}
	if open.ID[len(open.ID)-16:] == bad.ID[len(bad.ID)-16:] {
		t.Error("two uploads share their random part")
	}
}
