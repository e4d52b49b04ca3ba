package bench

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
	"github.com/roster-dev/roster/internal/postgres/pgtest"
)

// The generated files must be valid, deterministic, realistic (several scripts, managers
// in the file), and the changed copy must change about the share asked for.
func TestGenerate(t *testing.T) {
	var a, b, c bytes.Buffer
	if err := Generate(&a, 2000, 0, 7); err != nil {
		t.Fatal(err)
	}
	Generate(&b, 2000, 0, 7)
	Generate(&c, 2000, 0.1, 7)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same seed made two different files")
	}
	if !strings.HasPrefix(a.String(), Header) || !strings.ContainsAny(a.String(), "ИΜ李ễ") {
		t.Fatalf("header or scripts missing:\n%.300s", a.String())
	}
	org := &roster.Organization{ID: "org_x", Domains: []string{Domain}}
	rep, err := importer.Run(context.Background(), importer.Input{Name: "g.csv", R: &a}, importer.Env{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Rows != 2000 || rep.WarningCount != 0 {
		t.Fatalf("generated file: valid=%v rows=%d errors=%v warnings=%v", rep.Valid, rep.Rows, rep.Errors, rep.Warnings)
	}
	al, cl := strings.Split(b.String(), "\r\n"), strings.Split(c.String(), "\r\n")
	diff := 0
	for i := range al {
		if al[i] != cl[i] {
			diff++
		}
	}
	if diff < 140 || diff > 260 {
		t.Fatalf("%d of 2000 rows changed, want about 10%%", diff)
	}
}

// PsqlURL: a URL that roster accepts, with pgx's own parameters and a session setting,
// is one psql accepts for the same schema.
func TestPsqlURL(t *testing.T) {
	got, err := PsqlURL("postgres://u:p@db:5432/roster?sslmode=require&pool_max_conns=20&search_path=roster&application_name=x&lock_timeout=5s&options=-cwork_mem%3D64MB")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	q := u.Query()
	if q.Has("pool_max_conns") || q.Has("search_path") || q.Has("lock_timeout") {
		t.Fatalf("psql would refuse %s", got)
	}
	if q.Get("sslmode") != "require" || q.Get("application_name") != "x" || u.User.String() != "u:p" || u.Host != "db:5432" {
		t.Fatalf("lost a libpq parameter: %s", got)
	}
	if o := q.Get("options"); o != "-cwork_mem=64MB -c lock_timeout=5s -c search_path=roster" {
		t.Fatalf("options = %q", o)
	}
	if _, err := PsqlURL("sqlite:roster.db"); err == nil {
		t.Fatal("PsqlURL accepted a SQLite URL")
	}

	// And psql itself reads it: the session lands in the schema search_path named.
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatal("psql is not installed (apt-get install postgresql-client): the PostgreSQL floor needs it")
	}
	store, schema := pgtest.Schema(t, "roster_bench")
	pu, err := PsqlURL(store + "&pool_max_conns=3")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("psql", "-X", "-A", "-t", pu, "-c", "SELECT current_schema()").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != schema {
		t.Fatalf("psql on %s: %v: %q, want schema %s", pu, err, out, schema)
	}
}
