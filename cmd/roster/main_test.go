package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
)

// cli runs the roster command in-process against the SQLite file of dir.
type cli struct {
	t  *testing.T
	db string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, db: "sqlite:" + filepath.Join(t.TempDir(), "roster.db")}
}

func (c *cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--db", c.db)
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("roster %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func report(t *testing.T, out string) *roster.ImportReport {
	t.Helper()
	var rep roster.ImportReport
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than the report:\n%s", out)
	}
	return &rep
}

const people = "first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email,membership_active\r\n" +
	"Jane,Doe,jane@acme.com,E1,Engineer,R&D,Berlin,,true\r\n" +
	"José,García,jose@acme.com,E2,Designer,R&D,Madrid,jane@acme.com,\r\n"

func TestWalkThrough(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme Corp", "--domain", "acme.com", "--domain", "ACME.co.uk")
	if out := c.ok("org", "list"); !strings.Contains(out, "acme") || !strings.Contains(out, "acme.co.uk") {
		t.Fatalf("org list: %s", out)
	}

	tmpl := c.ok("learners", "template")
	if tmpl != "first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email,membership_active\r\n" {
		t.Fatalf("template: %q", tmpl)
	}

	file := writeFile(t, "people.csv", people)
	// A dry run writes nothing.
	rep := report(t, c.ok("learners", "import", "--org", "acme", "--dry-run", "--format", "json", file))
	if !rep.Valid || rep.Summary.New != 2 || rep.Committed || rep.File.SHA256 == "" || rep.File.Delimiter != "," {
		t.Fatalf("dry run: %+v", rep)
	}
	if out := c.ok("learners", "list", "--org", "acme", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("after a dry run the list must be empty: %s", out)
	}

	// Flags after the file work too.
	rep = report(t, c.ok("learners", "import", file, "--org", "acme", "--format", "json"))
	if !rep.Committed || rep.BatchID == "" || rep.Summary.New != 2 {
		t.Fatalf("commit: %+v", rep)
	}

	var list []map[string]any
	if err := json.Unmarshal([]byte(c.ok("learners", "list", "--org", "acme", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["employee_email"] != "jane@acme.com" || list[0]["status"] != "active" || list[1]["status"] != "inactive" {
		t.Fatalf("list: %+v", list)
	}
	for _, k := range []string{"first_name", "last_name", "employee_id", "job_title", "department", "location", "manager_email", "membership_active", "created_at"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("list entry lacks %s", k)
		}
	}

	// Re-importing the same file writes nothing, and is committed (as the API says) with
	// no batch.
	rep = report(t, c.ok("learners", "import", "--org", "acme", "--format", "json", file))
	if !rep.Committed || rep.BatchID != "" || rep.Summary.Unchanged != 2 || rep.Summary.New+rep.Summary.Updated != 0 {
		t.Fatalf("re-import: %+v", rep)
	}

	// A change with blank cells updates only what is filled in.
	upd := writeFile(t, "upd.csv", "email,first name,surname,title\r\njose@acme.com,José,García,Lead Designer\r\njane@acme.com,Jane,Doe,\r\nann@acme.co.uk,Ann,Lee,\r\n")
	rep = report(t, c.ok("learners", "import", "--org", "acme", "--format", "json", upd))
	if rep.Summary != (roster.Summary{New: 1, Updated: 1, Unchanged: 1}) || !rep.Committed {
		t.Fatalf("update: %+v", rep)
	}
	csvOut := c.ok("learners", "list", "--org", "acme", "--format", "csv")
	if !strings.Contains(csvOut, "José,García,jose@acme.com,E2,Lead Designer,R&D,Madrid,jane@acme.com,false,inactive,") {
		t.Fatalf("csv list: %s", csvOut)
	}
	if text := c.ok("learners", "list", "--org", "acme"); !strings.Contains(text, "ann@acme.co.uk") {
		t.Fatalf("text list: %s", text)
	}
}

func TestImportExitCodes(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	bad := writeFile(t, "bad.csv", "first_name,last_name,employee_email\nJane,Doe,jane@acme\nJ@ne,Doe,j2@acme.com\n")

	code, out, _ := c.run("", "learners", "import", "--org", "acme", "--format", "json", bad)
	if code != 1 {
		t.Fatalf("exit %d for a file with errors", code)
	}
	rep := report(t, out)
	if rep.Valid || rep.ErrorCount != 2 || rep.Committed {
		t.Fatalf("report: %+v", rep)
	}
	code, out, _ = c.run("", "learners", "import", "--org", "acme", bad)
	if code != 1 || !strings.Contains(out, "invalid_email (1): rows 2") || !strings.Contains(out, "Resolve the errors") {
		t.Fatalf("text report (exit %d):\n%s", code, out)
	}
	if out := c.ok("learners", "list", "--org", "acme", "--format", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("a file with errors wrote: %s", out)
	}

	pdf := writeFile(t, "x.pdf", "%PDF-1.4\n")
	if code, out, _ := c.run("", "learners", "import", "--org", "acme", "--format", "json", pdf); code != 1 || report(t, out).Errors[0].Code != "unsupported_format" {
		t.Fatalf("pdf: exit %d %s", code, out)
	}
	for _, args := range [][]string{
		{"learners", "import", "--org", "acme", filepath.Join(t.TempDir(), "missing.csv")},
		{"learners", "import", "--org", "acme"},
		{"learners", "import", "--org", "nope", bad},
		{"learners", "import", "--org", "acme", "--format", "xml", bad},
		{"learners", "import", "--org", "acme", "--bogus", bad},
		{"learners", "import", "--org", "acme", t.TempDir()},
		{"frobnicate"},
	} {
		if code, out, errs := c.run("", args...); code != 2 || errs == "" || out != "" {
			t.Errorf("roster %v: exit %d, stdout %q, stderr %q; want 2 and a message on stderr", args, code, out, errs)
		}
	}
}

func TestAdminAndToken(t *testing.T) {
	c := newCLI(t)
	c.ok("org", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.com")
	if code, _, _ := c.run("short\n", "admin", "create", "--org", "acme", "--email", "a@acme.com", "--password-stdin"); code != 2 {
		t.Fatalf("a short password must be refused, exit %d", code)
	}
	if code, out, errs := c.run("correct horse battery\n", "admin", "create", "--org", "acme", "--email", "Admin@Acme.com", "--password-stdin"); code != 0 || !strings.Contains(out, "admin@acme.com") {
		t.Fatalf("admin create: %d %s %s", code, out, errs)
	}
	if code, _, errs := c.run("correct horse battery\n", "admin", "create", "--org", "acme", "--email", "admin@acme.com", "--password-stdin"); code == 0 {
		t.Fatalf("a second admin with the same email must be refused: %s", errs)
	}
	tok := strings.TrimSpace(c.ok("token", "create", "--org", "acme", "--name", "hr-script"))
	if !strings.HasPrefix(tok, "rst_") || len(tok) < 40 {
		t.Fatalf("token: %q", tok)
	}
}
