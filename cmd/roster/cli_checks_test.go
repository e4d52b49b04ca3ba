package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
