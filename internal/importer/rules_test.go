package importer

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
)

var testOrg = &roster.Organization{ID: "org_test", Slug: "acme", Name: "Acme", Domains: []string{"acme.com", "acme.co.uk", "bücher.de"}}

// validate runs the pipeline on an in-memory file against an empty store.
func validate(t *testing.T, file string) *roster.ImportReport {
	t.Helper()
	rep, err := Run(context.Background(), Input{Name: "t.csv", R: strings.NewReader(file)}, Env{Org: testOrg})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Errors == nil || rep.Warnings == nil {
		t.Fatalf("errors and warnings must never be nil: %+v", rep)
	}
	return rep
}

// got lists a report's messages as "row:column:code".
func got(list []roster.RowError) []string {
	out := []string{}
	for _, e := range list {
		out = append(out, fmt.Sprintf("%d:%s:%s", e.Row, e.Column, e.Code))
	}
	return out
}

const hdr = "first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email,membership_active\n"

func TestRowRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name string
		rows string // data rows after the header
		want []string
	}{
		{"valid", "Jane,Doe,jane@acme.com,E1,Engineer,R&D,Berlin,,true\n", nil},
		{"missing first name", ",Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:missing_required"}},
		{"missing all required", " , ,\u00a0,E1,,,,,\n", []string{"2:first_name:missing_required", "2:last_name:missing_required", "2:employee_email:missing_required"}},
		{"single-label domain", "Jane,Doe,jane@acme,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"two ats", "Jane,Doe,ja@ne@acme.com,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"display name", "Jane,Doe,Jane <jane@acme.com>,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"quoted local part", "Jane,Doe,\"\"\"jane\"\"@acme.com\",,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"space in local part", "Jane,Doe,ja ne@acme.com,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"double dot", "Jane,Doe,jane..doe@acme.com,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"leading dot", "Jane,Doe,.jane@acme.com,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"numeric tld", "Jane,Doe,jane@acme.123,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"one-letter tld", "Jane,Doe,jane@acme.c,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"hyphen edge label", "Jane,Doe,jane@-acme.com,,,,,,\n", []string{"2:employee_email:invalid_email"}},
		{"atext symbols ok", "Jane,Doe,j.o'n+e_s-x!#=@acme.com,,,,,,\n", nil},
		{"upper-case email ok", "Jane,Doe,JANE@ACME.COM,,,,,,\n", nil},
		{"IDN domain ok", "Jane,Doe,jane@bücher.de,,,,,,\n", nil},
		{"unrecognized domain", "Jane,Doe,jane@other.com,,,,,,\n", []string{"2:employee_email:unrecognized_domain"}},
		{"subdomain is another domain", "Jane,Doe,jane@eu.acme.com,,,,,,\n", []string{"2:employee_email:unrecognized_domain"}},
		{"bad manager email", "Jane,Doe,jane@acme.com,,,,,boss@,\n", []string{"2:manager_email:invalid_email"}},
		{"manager elsewhere is fine", "Jane,Doe,jane@acme.com,,,,,boss@partner.org,\n", nil},
		{"names of many scripts", "José,O'Brien,a@acme.com,,,,,,\nZoë,Anne-Marie,b@acme.com,,,,,,\nNguyễn,李,c@acme.com,,,,,,\nJ. R.,D’Arcy,d@acme.com,,,,,,\n", nil},
		{"markup name", "<b>Jane</b>,Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:invalid_name"}},
		{"formula name", "\"=HYPERLINK(\"\"x\"\")\",Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:invalid_name"}},
		{"emoji name", "Jane😀,Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:invalid_name"}},
		{"at in name", "Jane,D@e,jane@acme.com,,,,,,\n", []string{"2:last_name:invalid_name"}},
		{"tab in name", "Ja\tne,Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:invalid_name"}},
		{"line break in name", "\"Ja\nne\",Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:invalid_name"}},
		{"digits in name", "Jane2,Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:invalid_name"}},
		{"punctuation only", "..,Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:invalid_name"}},
		{"first name 100 ok", long(100) + ",Doe,jane@acme.com,,,,,,\n", nil},
		{"first name 101", long(101) + ",Doe,jane@acme.com,,,,,,\n", []string{"2:first_name:too_long"}},
		{"limit counts code points", strings.Repeat("é", 100) + ",Doe,jane@acme.com,,,,,,\n", nil},
		{"employee id 65", "Jane,Doe,jane@acme.com," + long(65) + ",,,,,\n", []string{"2:employee_id:too_long"}},
		{"job title 201", "Jane,Doe,jane@acme.com,," + long(201) + ",,,,\n", []string{"2:job_title:too_long"}},
		{"department 201", "Jane,Doe,jane@acme.com,,," + long(201) + ",,,\n", []string{"2:department:too_long"}},
		{"location 201", "Jane,Doe,jane@acme.com,,,," + long(201) + ",,\n", []string{"2:location:too_long"}},
		{"email 255", "Jane,Doe," + long(64) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." + strings.Repeat("d", 60) + ".acme.com,,,,,,\n", []string{"2:employee_email:too_long"}},
		{"membership words", "A,B,a@acme.com,,,,,,TRUE\nA,B,b@acme.com,,,,,,no\nA,B,c@acme.com,,,,,,1\nA,B,d@acme.com,,,,,,Yes\nA,B,e@acme.com,,,,,,0\n", nil},
		{"membership bad", "A,B,a@acme.com,,,,,,maybe\n", []string{"2:membership_active:invalid_value"}},
		{"duplicate email after normalising", "A,B,a@acme.com,,,,,,\nA,B, A@ACME.com ,,,,,,\nA,B,c@acme.com,,,,,,\nA,B,a@acme.com,,,,,,\n",
			[]string{"2:employee_email:duplicate_email", "3:employee_email:duplicate_email", "5:employee_email:duplicate_email"}},
		{"duplicate employee id", "A,B,a@acme.com,E1,,,,,\nA,B,b@acme.com,E1,,,,,\nA,B,c@acme.com,E2,,,,,\n",
			[]string{"2:employee_id:duplicate_employee_id", "3:employee_id:duplicate_employee_id"}},
		{"blank employee ids are not duplicates", "A,B,a@acme.com,,,,,,\nA,B,b@acme.com,,,,,,\n", nil},
		{"several errors in one row sorted by column", "J@ne,,jane@x.com,,,,,,perhaps\n",
			[]string{"2:first_name:invalid_name", "2:last_name:missing_required", "2:employee_email:unrecognized_domain", "2:membership_active:invalid_value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := validate(t, hdr+tc.rows)
			g := got(rep.Errors)
			want := tc.want
			if want == nil {
				want = []string{}
			}
			if strings.Join(g, " ") != strings.Join(want, " ") {
				t.Fatalf("errors\n got %v\nwant %v\n(%+v)", g, want, rep.Errors)
			}
			if rep.Valid != (len(want) == 0) || rep.ErrorCount != len(want) {
				t.Fatalf("valid=%v error_count=%d, want %d errors", rep.Valid, rep.ErrorCount, len(want))
			}
		})
	}
}

func TestDuplicateMessagesNameTheOtherRows(t *testing.T) {
	rep := validate(t, hdr+"A,B,a@acme.com,,,,,,\nA,B,x@acme.com,,,,,,\nA,B,a@acme.com,,,,,,\nA,B,a@acme.com,,,,,,\n")
	if len(rep.Errors) != 3 {
		t.Fatalf("want 3 errors, got %+v", rep.Errors)
	}
	if m := rep.Errors[0].Message; !strings.Contains(m, "rows 4, 5") {
		t.Errorf("row 2's message should name rows 4 and 5: %q", m)
	}
	if m := rep.Errors[1].Message; !strings.Contains(m, "rows 2, 5") {
		t.Errorf("row 4's message should name rows 2 and 5: %q", m)
	}
	if rep.Errors[0].Value != "a@acme.com" {
		t.Errorf("value = %q", rep.Errors[0].Value)
	}
	if rep.Summary.New != 1 {
		t.Errorf("summary counts valid rows only: %+v", rep.Summary)
	}
}

// Rows of one email that share an employee id are duplicate_email only: the contract's
// duplicate_employee_id is for rows with different emails. The check once compared the id's
// first row with the email's first row, which differ when the id first comes later.
func TestDuplicateEmployeeIDNeedsTwoEmails(t *testing.T) {
	rep := validate(t, hdr+"A,B,a@acme.com,,,,,,\nA,B,a@acme.com,E1,,,,,\nA,B,a@acme.com,E1,,,,,\n")
	if g := got(rep.Errors); strings.Join(g, " ") != "2:employee_email:duplicate_email 3:employee_email:duplicate_email 4:employee_email:duplicate_email" {
		t.Errorf("one email, one id: %v", g)
	}
	rep = validate(t, hdr+"A,B,a@acme.com,,,,,,\nA,B,a@acme.com,E1,,,,,\nA,B,b@acme.com,E1,,,,,\n")
	if g := got(rep.Errors); strings.Join(g, " ") != "2:employee_email:duplicate_email 3:employee_email:duplicate_email 3:employee_id:duplicate_employee_id 4:employee_id:duplicate_employee_id" {
		t.Errorf("two emails, one id: %v", g)
	}
}

// A value repeated down a whole file (a placeholder email, "TBD" as every employee id)
// makes one duplicate group as large as the file: each row's message names ten others and
// counts the rest. Building that message once looped over the whole group, so this file
// took about half an hour to validate; it now takes a second.
func TestLargeDuplicateGroups(t *testing.T) {
	const n = 100_000
	var sb strings.Builder
	sb.WriteString(hdr)
	for i := range n {
		fmt.Fprintf(&sb, "A,B,same@acme.com,,,,,,\nA,B,p%d@acme.com,TBD,,,,,\n", i)
	}
	rep := validate(t, sb.String())
	if rep.ErrorCount != 2*n {
		t.Fatalf("%d errors, want %d (every row of both groups)", rep.ErrorCount, 2*n)
	}
	want := map[string]string{
		roster.CodeDuplicateEmail:      "This email also appears in rows 4, 6, 8, 10, 12, 14, 16, 18, 20, 22 and 99989 more.",
		roster.CodeDuplicateEmployeeID: "This employee id is also used by another learner in rows 5, 7, 9, 11, 13, 15, 17, 19, 21, 23 and 99989 more.",
	}
	seen := map[string]bool{}
	for _, e := range rep.Errors {
		if (e.Row == 2 || e.Row == 3) && want[e.Code] != "" {
			if e.Message != want[e.Code] {
				t.Fatalf("row %d %s: %q, want %q", e.Row, e.Code, e.Message, want[e.Code])
			}
			seen[e.Code] = true
		}
	}
	if len(seen) != 2 {
		t.Fatalf("the first rows' messages are missing from the report: %+v", rep.Errors[:4])
	}
}

func TestNormalisation(t *testing.T) {
	rep := validate(t, hdr+"\u00a0 Jose\u0301 ,Doe,  Jane@Acme.COM\t,,,,,,\n")
	if !rep.Valid {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	var ch []roster.LearnerChange
	_, err := Run(context.Background(), Input{Name: "t.csv", R: strings.NewReader(hdr + "\u00a0 Jose\u0301 ,Doe,  Jane@Acme.COM\t,,,,,,\n")},
		Env{Org: testOrg, OnChange: func(c roster.LearnerChange) { ch = append(ch, c) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || ch[0].After.FirstName != "José" || ch[0].After.Email != "jane@acme.com" {
		t.Fatalf("normalised learner: %+v", ch)
	}
	if ch[0].After.FirstName != "Jos\u00e9" {
		t.Fatalf("first name not NFC: %q", ch[0].After.FirstName)
	}
}

// An internationalised email domain belongs to the organization whichever spelling the
// file and the organization use: Unicode or its ASCII (xn--) form.
func TestIDNDomains(t *testing.T) {
	ascii := &roster.Organization{ID: "org_b", Slug: "books", Domains: []string{"xn--bcher-kva.de"}}
	for _, c := range []struct {
		org   *roster.Organization
		email string
	}{
		{ascii, "jane@bücher.de"},
		{ascii, "jane@BÜCHER.de"},
		{ascii, "jane@xn--bcher-kva.de"},
		{testOrg, "jane@xn--bcher-kva.de"}, // testOrg holds bücher.de, as written
	} {
		rep, err := Run(context.Background(), Input{Name: "t.csv", R: strings.NewReader(hdr + "Jane,Doe," + c.email + ",,,,,,\n")}, Env{Org: c.org})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Valid {
			t.Errorf("%s in an organization of %v: %+v", c.email, c.org.Domains, rep.Errors)
		}
	}
	rep, err := Run(context.Background(), Input{Name: "t.csv", R: strings.NewReader(hdr + "Jane,Doe,jane@bucher.de,,,,,,\n")}, Env{Org: ascii})
	if err != nil || rep.Valid || rep.Errors[0].Code != roster.CodeUnrecognizedDomain {
		t.Fatalf("another domain: %v %+v", err, rep)
	}
}

// One mailbox is one learner however the file spells its internationalised domain: the
// email is stored with the domain in ASCII form, so the spellings are duplicates of each
// other, and a manager written one way is the learner written the other.
func TestIDNEmailsAreOneMailbox(t *testing.T) {
	org := &roster.Organization{ID: "org_b", Slug: "books", Domains: []string{"xn--bcher-kva.example"}}
	var ch []roster.LearnerChange
	file := hdr +
		"Ju,One,ju@bücher.example,,,,,,\n" +
		"Ju,Two,ju@xn--bcher-kva.example,,,,,,\n" +
		"Ju,Three,JU@BÜCHER.EXAMPLE,,,,,,\n" +
		"Ju,Four,ju@ｂücher.example,,,,,,\n" +
		"Ju,Five,ju@bu\u0308cher.example,,,,,,\n"
	rep, err := Run(context.Background(), Input{Name: "t.csv", R: strings.NewReader(file)}, Env{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, e := range rep.Errors {
		if e.Code == roster.CodeDuplicateEmail {
			dups++
		}
	}
	if dups != 5 {
		t.Fatalf("%d duplicate_email errors, want all 5 rows: %+v", dups, rep.Errors)
	}
	file = hdr + "Ann,Lee,ann@bücher.example,,,,,ju@xn--bcher-kva.example,\nJu,One,ju@bücher.example,,,,,,\n"
	rep, err = Run(context.Background(), Input{Name: "t.csv", R: strings.NewReader(file)},
		Env{Org: org, OnChange: func(c roster.LearnerChange) { ch = append(ch, c) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.WarningCount != 0 {
		t.Fatalf("a manager spelt the other way: %+v %+v", rep.Errors, rep.Warnings)
	}
	if len(ch) != 2 || ch[0].After.Email != "ann@xn--bcher-kva.example" || ch[0].After.ManagerEmail != "ju@xn--bcher-kva.example" {
		t.Fatalf("stored emails: %+v", ch)
	}
}
