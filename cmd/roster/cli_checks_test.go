package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// runRaw runs roster in-process with exactly args: no --db is added.
func runRaw(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// refused checks that a command exits 2 with its reason on stderr and nothing on stdout.
func (c *cli) refused(stdin string, args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(stdin, args...)
	if code != exitUsage || out != "" || errs == "" {
		c.t.Errorf("roster %q: exit %d, stdout %q, stderr %q; want exit 2 and a reason on stderr", args, code, out, errs)
	}
	return errs
}

// oneLineMsg checks that an error message is one line.
func oneLineMsg(t *testing.T, what, errs string) {
	t.Helper()
	if strings.Count(errs, "\n") != 1 || !strings.HasSuffix(errs, "\n") {
		t.Errorf("%s: want one line on stderr, got %q", what, errs)
	}
}

func orgSlugs(t *testing.T, c *cli) []string {
	t.Helper()
	var orgs []struct{ Slug, Name string }
	if err := json.Unmarshal([]byte(c.ok("org", "list", "--format", "json")), &orgs); err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for _, o := range orgs {
		slugs = append(slugs, o.Slug)
	}
	return slugs
}

func TestOrgCreateRefusesSlugsTheWebWouldNotMake(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	for _, slug := range []string{"a b", "-x", "x-", "../x", "a/b", "a?b", "é", "a--b", strings.Repeat("a", 300), "a\nb", "ACME", "Acme"} {
		errs := c.refused("", "org", "create", "--slug", slug, "--name", "X", "--domain", "x"+slugish(slug)+".com")
		oneLineMsg(t, "slug "+slug, errs)
	}
	c.ok("org", "create", "--slug", "a-1", "--name", "A1", "--domain", "a1.com")
	c.ok("org", "create", "--slug", strings.Repeat("b", 40), "--name", "B", "--domain", "b.com")
	if got := orgSlugs(t, c); len(got) != 3 {
		t.Fatalf("organizations: %q", got)
	}
}

// slugish makes a distinct domain label of a test slug.
func slugish(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'a' <= r && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()[:min(b.Len(), 20)]
}

func TestOrgCreateRefusesControlCharactersAndLongNames(t *testing.T) {
	c := newCLI(t)
	for _, name := range []string{"Acme\x1fCorp", "Acme\nCorp", "Acme\tCorp", "   ", strings.Repeat("n", 201)} {
		oneLineMsg(t, "name "+name, c.refused("", "org", "create", "--slug", "acme", "--name", name, "--domain", "acme.com"))
	}
	c.ok("org", "create", "--slug", "acme", "--name", "  Bücher & Söhne  ", "--domain", "acme.com")
	if out := c.ok("org", "list"); !strings.Contains(out, "acme  Bücher & Söhne  acme.com") {
		t.Fatalf("org list:\n%s", out)
	}
}

func TestOrgCreateParsesDomainsLikeTheWeb(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "X.COM.", "--domain", "@acme.com")
	var orgs []struct{ Domains []string }
	if err := json.Unmarshal([]byte(c.ok("org", "list", "--format", "json")), &orgs); err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 || strings.Join(orgs[0].Domains, ",") != "acme.com,x.com" {
		t.Fatalf("domains: %+v", orgs)
	}
	for _, d := range []string{"localhost", "x.com..", "a_b.com", "a@b.com", "-a.com", "a\u00a0b.com"} {
		oneLineMsg(t, "domain "+d, c.refused("", "org", "create", "--slug", "other", "--name", "Other", "--domain", d))
	}
	// The one spelling of an internationalised domain is its ASCII form: typed either way,
	// it is stored so, and one organization holds it.
	if out := c.ok("org", "create", "--slug", "books", "--name", "Books", "--domain", "Bücher.example"); !strings.Contains(out, "xn--bcher-kva.example") {
		t.Fatalf("an IDN domain is not stored in its ASCII form: %s", out)
	}
	c.refused("", "org", "create", "--slug", "books2", "--name", "Books", "--domain", "XN--BCHER-KVA.EXAMPLE")
	c.refused("", "org", "create", "--slug", "books3", "--name", "Books", "--domain", "bücher.example")
}

func TestAdminCreateChecksEmailAndPassword(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	for _, email := range []string{"a@b@acme.com", "<script>@acme.com", "Jane <jane@acme.com>", "jane@acme", "jane"} {
		oneLineMsg(t, "email "+email, c.refused("correct horse battery\n", "admin", "create", "--org", "acme", "--email", email, "--password-stdin"))
	}
	for _, pw := range []string{"            ", " \t \t \t \t \t ", "short", ""} {
		oneLineMsg(t, "password "+pw, c.refused(pw+"\n", "admin", "create", "--org", "acme", "--email", "jane@acme.com", "--password-stdin"))
	}
	oneLineMsg(t, "admin name", c.refused("correct horse battery\n", "admin", "create", "--org", "acme", "--email", "jane@acme.com", "--name", "Ja\x1fne", "--password-stdin"))
	// The web lets an admin sign in from outside the organization's domains; so does the
	// command line, with a note.
	code, out, errs := c.run("correct horse battery\n", "admin", "create", "--org", "acme", "--email", "hr@consultants.example", "--password-stdin")
	if code != 0 || !strings.Contains(out, "hr@consultants.example") || !strings.Contains(errs, "not in acme's email domains") {
		t.Fatalf("admin outside the domains: exit %d, %q, %q", code, out, errs)
	}
}

func TestExtraArgumentsAreRefused(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	for _, args := range [][]string{
		{"org", "create", "--slug", "ok", "--name", "X", "--domain", "y.com", "extra"},
		{"org", "list", "extra"},
		{"token", "create", "--org", "acme", "extra"},
		{"admin", "create", "--org", "acme", "--email", "a@acme.com", "--password-stdin", "extra"},
		{"learners", "list", "--org", "acme", "extra"},
		{"learners", "template", "extra"},
	} {
		c.refused("correct horse battery\n", args...)
	}
	if got := orgSlugs(t, c); len(got) != 1 {
		t.Fatalf("organizations: %q", got)
	}
}

func TestReadingCommandsDoNotCreateTheDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "typo.db")
	for _, args := range [][]string{
		{"org", "list"},
		{"learners", "list", "--org", "acme"},
		{"token", "create", "--org", "acme"},
		{"learners", "import", "--org", "acme", writeFile(t, "p.csv", people)},
	} {
		code, out, errs := runRaw(t, "", append(args, "--db", "sqlite:"+path)...)
		if code != exitUsage || out != "" || !strings.Contains(errs, "no such database") {
			t.Errorf("roster %q on a missing file: exit %d, %q, %q", args, code, out, errs)
		}
		oneLineMsg(t, strings.Join(args, " "), errs)
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("roster %q created %s", args, path)
		}
	}
	// The template needs no store at all.
	if code, out, _ := runRaw(t, "", "learners", "template", "--db", "sqlite:"+path); code != 0 || out == "" {
		t.Fatalf("template: exit %d", code)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("learners template created %s", path)
	}
	// org create makes it.
	if code, _, errs := runRaw(t, "", "org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com", "--db", "sqlite:"+path); code != 0 {
		t.Fatalf("org create: exit %d %s", code, errs)
	}
}

func TestStoresThatCannotBeOpenedExit2OnOneLine(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not SQLite\n", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{
		"sqlite:" + filepath.Join(dir, "nonexistent", "x.db"),
		"sqlite:" + dir,
		"sqlite:" + notDB,
		"postgres://postgres@127.0.0.1:1/x?connect_timeout=5",
		"postgres://%zz",
	} {
		for _, args := range [][]string{{"org", "list"}, {"org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com"}} {
			code, out, errs := runRaw(t, "", append(args, "--db", db)...)
			if code != exitUsage || out != "" {
				t.Errorf("roster %q --db %s: exit %d, stdout %q, stderr %q; want exit 2", args, db, code, out, errs)
			}
			oneLineMsg(t, db, errs)
		}
	}
}

func TestGroupHelp(t *testing.T) {
	for _, group := range []string{"org", "learners", "admin", "token"} {
		for _, h := range []string{"--help", "-h", "help"} {
			code, out, errs := runRaw(t, "", group, h)
			if code != 0 || !strings.Contains(out, "roster "+group+" ") || errs != "" {
				t.Errorf("roster %s %s: exit %d, stdout %q, stderr %q", group, h, code, out, errs)
			}
		}
		if code, _, errs := runRaw(t, "", group); code != exitUsage || !strings.Contains(errs, "--help") {
			t.Errorf("roster %s: exit %d, %q", group, code, errs)
		}
	}
	code, out, errs := runRaw(t, "", "learners", "template", "--help")
	if code != 0 || strings.Contains(out, "first_name") || !strings.Contains(errs, "learners template") {
		t.Errorf("learners template --help: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestImportFromStandardInput(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	code, out, errs := c.run(people, "learners", "import", "--org", "acme", "--format", "json", "--dry-run", "-")
	if code != 0 {
		t.Fatalf("CSV on stdin: exit %d %s", code, errs)
	}
	if rep := report(t, out); !rep.Valid || rep.Summary.New != 2 || rep.File.Format != "csv" {
		t.Fatalf("CSV on stdin: %+v", rep)
	}

	x := excelize.NewFile()
	for i, row := range [][]any{{"first_name", "last_name", "employee_email"}, {"Ann", "Lee", "ann@acme.com"}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	code, out, errs = c.run(buf.String(), "learners", "import", "--org", "acme", "--format", "json", "-")
	if code != 0 {
		t.Fatalf("XLSX on stdin: exit %d %s", code, errs)
	}
	if rep := report(t, out); !rep.Committed || rep.Summary.New != 1 || rep.File.Format != "xlsx" {
		t.Fatalf("XLSX on stdin: %+v", rep)
	}
}

func TestImportRefusesNegativeLimits(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	file := writeFile(t, "p.csv", people)
	c.refused("", "learners", "import", "--org", "acme", "--max-rows", "-1", file)
	c.refused("", "learners", "import", "--org", "acme", "--max-bytes", "-5", file)
	c.ok("learners", "import", "--org", "acme", "--max-rows", "0", "--max-bytes", "0", "--dry-run", file)
}

func TestTokenCreateChecksName(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	for _, name := range []string{"", "   ", "a\nb", strings.Repeat("x", 101)} {
		oneLineMsg(t, "token name "+name, c.refused("", "token", "create", "--org", "acme", "--name", name))
	}
	c.ok("token", "create", "--org", "acme", "--name", "HR export script")
}

// A bad flag value is one error and the usage hint, not every flag's help; -h still
// prints the help.
func TestBadFlagValueIsOneError(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"serve", "--trusted-proxies", "not-a-cidr"},
		{"serve", "--upload-ttl", "soon"},
		{"learners", "import", "--org", "acme", "--max-rows", "abc", "x.csv"},
		{"org", "list", "--nope"},
	} {
		errs := c.refused("", args...)
		if strings.Contains(errs, "Usage of") || strings.Count(errs, "\n") > 2 {
			t.Errorf("roster %q printed the flags' help on a bad value:\n%s", args, errs)
		}
	}
	code, _, errs := c.run("", "serve", "-h")
	if code != 0 || !strings.Contains(errs, "-trusted-proxies") {
		t.Errorf("serve -h: exit %d, stderr %.200q", code, errs)
	}
}
