package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
)

// TestExportImportRoundTrip: the learners export, uploaded again, changes nothing. The
// export guards cells a spreadsheet would run ("=1+1" goes out as "'=1+1"); the importer
// takes the guard off, where it once stored the apostrophes (and made a learner of
// "'=1+10@acme.com").
func TestExportImportRoundTrip(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	a := e.api(tn.Token)
	file := "first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email\r\n" +
		"Ada,Lovelace,=1+10@acme.com,=1+1,- Senior -,+Ops,@home,-x@acme.com\r\n" +
		"Grace,Hopper,grace@acme.com,E2,Engineer,R&D,'Ohana,=1+10@acme.com\r\n" +
		"Joan,Clarke,-joan@acme.com,@3,=cmd|' /C calc'!A0,Ops,Remote,\r\n" +
		// A control character between the guard and the formula (dropped on import), and a
		// value that is itself an apostrophe and a formula (stored as '=x).
		"Alan,Turing,alan@acme.com,E4,'\x01=SUM(1),''=x,'\u0085+1,\r\n"
	rep := decode[roster.ImportReport](t, a.upload("people.csv", file))
	if !rep.Valid || rep.Summary.New != 4 {
		t.Fatalf("the file: valid=%v %+v %+v", rep.Valid, rep.Summary, rep.Errors)
	}
	if r := a.do("POST", "/api/v1/uploads/"+rep.ID+"/commit", nil, ""); r.StatusCode != http.StatusOK {
		t.Fatalf("commit: %d %s", r.StatusCode, r.Body)
	}
	b := e.browser()
	b.signIn(tn)
	export := b.get("/learners/export.csv")
	if export.StatusCode != http.StatusOK || !strings.Contains(export.Body, "'=1+10@acme.com") || !strings.Contains(export.Body, "'+Ops") {
		t.Fatalf("export: %d\n%s", export.StatusCode, export.Body)
	}
	again := decode[roster.ImportReport](t, a.upload("export.csv", export.Body))
	if !again.Valid || again.Summary.New != 0 || again.Summary.Updated != 0 || again.Summary.Unchanged != 4 {
		t.Fatalf("the export uploaded again: valid=%v %+v, want 4 unchanged\n%+v\n%s", again.Valid, again.Summary, again.Errors, export.Body)
	}
	// An apostrophe that is no guard stays: 'Ohana is a place.
	page := decode[struct{ Learners []roster.Learner }](t, a.get("/api/v1/learners?q=grace"))
	if len(page.Learners) != 1 || page.Learners[0].Location != "'Ohana" {
		t.Fatalf("grace's location: %+v", page.Learners)
	}
}

// An internationalised domain typed in Settings is stored in its ASCII form and shown as
// people write it; saving the form again changes nothing.
func TestSettingsIDNDomain(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	b := e.browser()
	b.signIn(tn)
	save := func(domains string) {
		t.Helper()
		r := b.post("/settings/domains", url.Values{"csrf": {b.csrf("/settings")}, "domains": {domains}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("saving %q: %d\n%.300s", domains, r.StatusCode, r.Body)
		}
	}
	save("acme.com, Bücher.example")
	org, err := e.store.OrganizationByID(context.Background(), tn.Org.ID)
	if err != nil || !org.HasDomain("xn--bcher-kva.example") {
		t.Fatalf("stored domains: %v %v", org, err)
	}
	page := b.get("/settings").Body
	if !strings.Contains(page, `value="acme.com, bücher.example"`) {
		t.Fatalf("the domains field does not show bücher.example:\n%s", page[strings.Index(page, "domains-in"):][:200])
	}
	save("acme.com, bücher.example")
	if org, _ := e.store.OrganizationByID(context.Background(), tn.Org.ID); len(org.Domains) != 2 || !org.HasDomain("xn--bcher-kva.example") {
		t.Fatalf("saved again: %v", org.Domains)
	}
	// A learner of that domain is stored in ASCII form and shown as people write it.
	a := e.api(tn.Token)
	id := decode[roster.ImportReport](t, a.upload("p.csv", "first_name,last_name,employee_email,manager_email\nAna,Buch,ana@bücher.example,\nBo,Buch,bo@acme.com,ana@bücher.example\n")).ID
	if r := a.do("POST", "/api/v1/uploads/"+id+"/commit", nil, ""); r.StatusCode != 200 {
		t.Fatalf("commit: %d %s", r.StatusCode, r.Body)
	}
	page = b.get("/learners").Body
	if !strings.Contains(page, "ana@bücher.example") || strings.Contains(page, "xn--") {
		t.Errorf("the Learners tab shows the domain in ASCII form:\n%s", page[strings.Index(page, "<tbody>"):][:600])
	}
}
