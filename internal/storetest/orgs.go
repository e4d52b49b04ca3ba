package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

func testOrganizations(t *testing.T, e *env) {
	o := &roster.Organization{Slug: "acme", Name: "Acme Corp", Domains: []string{"acme.com", "acme.co.uk"}, HRISProvider: "bamboohr"}
	must(t, e.s.CreateOrganization(e.ctx, o), "CreateOrganization")
	if o.ID == "" {
		t.Fatal("CreateOrganization did not fill in the ID")
	}
	sameTime(t, "CreatedAt", o.CreatedAt, e.clock.Now())
	other := e.org(t, "globex")
	if other.ID == o.ID {
		t.Fatal("two organizations got the same ID")
	}

	check := func(what string, got *roster.Organization) {
		t.Helper()
		if got.ID != o.ID || got.Slug != "acme" || got.Name != "Acme Corp" || got.HRISProvider != "bamboohr" || got.LearnersVersion != 0 {
			t.Fatalf("%s = %+v, want %+v", what, got, o)
		}
		d := slices.Clone(got.Domains)
		slices.Sort(d)
		if !slices.Equal(d, []string{"acme.co.uk", "acme.com"}) {
			t.Fatalf("%s domains = %v", what, got.Domains)
		}
		sameTime(t, what+" CreatedAt", got.CreatedAt, e.clock.Now())
	}
	got, err := e.s.OrganizationBySlug(e.ctx, "acme")
	must(t, err, "OrganizationBySlug")
	check("OrganizationBySlug", got)
	got, err = e.s.OrganizationByID(e.ctx, o.ID)
	must(t, err, "OrganizationByID")
	check("OrganizationByID", got)

	all, err := e.s.Organizations(e.ctx)
	must(t, err, "Organizations")
	if len(all) != 2 {
		t.Fatalf("Organizations = %d, want 2", len(all))
	}
	for _, a := range all {
		if a.ID == o.ID {
			check("Organizations", &a)
		} else if a.ID != other.ID || a.Slug != "globex" || !slices.Equal(a.Domains, []string{"globex.com"}) {
			t.Fatalf("Organizations has %+v", a)
		}
	}

	_, err = e.s.OrganizationBySlug(e.ctx, "nope")
	wantCode(t, err, roster.ENOTFOUND, "OrganizationBySlug(nope)")
	_, err = e.s.OrganizationByID(e.ctx, "org_00000000000000000000000000")
	wantCode(t, err, roster.ENOTFOUND, "OrganizationByID(unknown)")
	_, err = e.s.OrganizationByID(e.ctx, "not an id")
	wantCode(t, err, roster.ENOTFOUND, "OrganizationByID(garbage)")
	_, err = e.s.OrganizationByID(e.ctx, "")
	wantCode(t, err, roster.EINVALID, "OrganizationByID(\"\")")
}

func testOrganizationConflicts(t *testing.T, e *env) {
	e.org(t, "acme")
	err := e.s.CreateOrganization(e.ctx, &roster.Organization{Slug: "acme", Name: "Other", Domains: []string{"other.com"}})
	wantCode(t, err, roster.ECONFLICT, "same slug")
	if roster.ErrorMessage(err) == "" {
		t.Fatal("a conflict needs a message")
	}

	err = e.s.CreateOrganization(e.ctx, &roster.Organization{Slug: "acme2", Name: "Acme 2", Domains: []string{"fresh.com", "acme.com"}})
	wantCode(t, err, roster.ECONFLICT, "a domain of another organization")
	// All or nothing: the organization was not created, its fresh domain not taken.
	_, err = e.s.OrganizationBySlug(e.ctx, "acme2")
	wantCode(t, err, roster.ENOTFOUND, "organization whose domain conflicted")
	must(t, e.s.CreateOrganization(e.ctx, &roster.Organization{Slug: "fresh", Name: "Fresh", Domains: []string{"fresh.com"}}), "domain of a failed create")

	all, err := e.s.Organizations(e.ctx)
	must(t, err, "Organizations")
	if len(all) != 2 {
		t.Fatalf("Organizations = %d, want 2 (acme, fresh)", len(all))
	}
	err = e.s.CreateOrganization(e.ctx, &roster.Organization{Slug: "", Name: "No slug"})
	wantCode(t, err, roster.EINVALID, "empty slug")
}

func testSetDomains(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	must(t, e.s.SetDomains(e.ctx, a.ID, []string{"acme.io", "acme.net"}), "SetDomains")
	got, err := e.s.OrganizationByID(e.ctx, a.ID)
	must(t, err, "OrganizationByID")
	d := slices.Clone(got.Domains)
	slices.Sort(d)
	if !slices.Equal(d, []string{"acme.io", "acme.net"}) {
		t.Fatalf("domains after SetDomains = %v", got.Domains)
	}
	// The released domain is free again; another organization's is not.
	must(t, e.s.SetDomains(e.ctx, b.ID, []string{"globex.com", "acme.com"}), "taking a released domain")
	err = e.s.SetDomains(e.ctx, a.ID, []string{"acme.io", "globex.com"})
	wantCode(t, err, roster.ECONFLICT, "SetDomains with another organization's domain")
	got, err = e.s.OrganizationByID(e.ctx, a.ID)
	must(t, err, "OrganizationByID")
	d = slices.Clone(got.Domains)
	slices.Sort(d)
	if !slices.Equal(d, []string{"acme.io", "acme.net"}) {
		t.Fatalf("a failed SetDomains changed the domains to %v", got.Domains)
	}
	must(t, e.s.SetDomains(e.ctx, a.ID, nil), "SetDomains(nil)")
	got, _ = e.s.OrganizationByID(e.ctx, a.ID)
	if len(got.Domains) != 0 {
		t.Fatalf("domains after SetDomains(nil) = %v", got.Domains)
	}
	wantCode(t, e.s.SetDomains(e.ctx, "org_00000000000000000000000000", []string{"x.com"}), roster.ENOTFOUND, "SetDomains(unknown org)")
}

// testEmptyOrgID calls every method that takes an organization with none.
func testEmptyOrgID(t *testing.T, e *env) {
	ctx, s := e.ctx, e.s
	a := e.org(t, "acme")
	fn := func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		t.Error("Import called fn without an organization")
		return nil, nil
	}
	checks := map[string]error{}
	checks["SetDomains"] = s.SetDomains(ctx, "", []string{"x.com"})
	_, checks["CountLearners"] = s.Lookup("").CountLearners(ctx)
	_, checks["LearnersByEmail"] = s.Lookup("").LearnersByEmail(ctx, []string{"a@acme.com"})
	_, checks["LearnersByEmployeeID"] = s.Lookup("").LearnersByEmployeeID(ctx, []string{"E1"})
	_, checks["Import"] = s.Import(ctx, "", -1, fn)
	_, checks["Learner"] = s.Learner(ctx, "", "lrn_x")
	_, checks["Learners"] = s.Learners(ctx, "", roster.LearnerFilter{})
	checks["EachLearner"] = s.EachLearner(ctx, "", roster.LearnerFilter{}, func(*roster.Learner) error { return nil })
	_, checks["ImportBatches"] = s.ImportBatches(ctx, "", 10)
	_, checks["ImportBatch"] = s.ImportBatch(ctx, "", "bat_x")
	checks["CreateAdmin"] = s.CreateAdmin(ctx, &roster.Admin{Email: "a@acme.com", Name: "A", PasswordHash: "h"})
	_, checks["Admin"] = s.Admin(ctx, "", "adm_x")
	_, checks["Admins"] = s.Admins(ctx, "")
	checks["CreateToken"] = s.CreateToken(ctx, &roster.APIToken{Name: "t", Hash: "h1"})
	_, checks["Tokens"] = s.Tokens(ctx, "")
	checks["RevokeToken"] = s.RevokeToken(ctx, "", "tok_x")
	checks["CreateUpload"] = s.CreateUpload(ctx, &roster.Upload{FileName: "f.csv", Status: roster.UploadValidated}, bytes.NewReader([]byte("x")))
	_, checks["Upload"] = s.Upload(ctx, "", "upl_x")
	_, checks["OpenUploadFile"] = s.OpenUploadFile(ctx, "", "upl_x")
	checks["SaveUploadResult"] = s.SaveUploadResult(ctx, "", "upl_x", []byte("{}"), 0, nil)
	_, checks["UploadErrors"] = s.UploadErrors(ctx, "", "upl_x", 0, 10)
	checks["MarkUploadCommitted"] = s.MarkUploadCommitted(ctx, "", "upl_x", "bat_x", []byte("{}"))
	adm := &roster.Admin{OrgID: a.ID, Email: "boss@acme.com", Name: "Boss", PasswordHash: "h"}
	must(t, s.CreateAdmin(ctx, adm), "CreateAdmin")
	checks["CreateSession"] = s.CreateSession(ctx, &roster.Session{TokenHash: "s1", AdminID: adm.ID, CSRFToken: "c", ExpiresAt: e.clock.Now().Add(time.Hour)})
	for name, err := range checks {
		if roster.ErrorCode(err) != roster.EINVALID {
			t.Errorf("%s without an organization: %v, want code %q", name, err, roster.EINVALID)
		}
	}
	if n, _ := s.CountAdmins(ctx); n != 1 {
		t.Errorf("CountAdmins = %d after a refused CreateAdmin, want 1", n)
	}
}
