package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBenchCommand runs `roster bench` on a small file against both stores, floors
// included (they need the sqlite3 shell and psql, which .ci/run installs), and checks that
// every phase ran with the counts the generated files imply and that each floor produced a
// ratio rather than a failure.
func TestBenchCommand(t *testing.T) {
	bin := rosterBinary(t)
	for _, tc := range []struct {
		name   string
		db     string
		floors []string
		pairs  string
	}{
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "bench.db"), []string{"sqlite3 shell .import"}, "0"},
		{"postgres", testDatabase(t), []string{`psql \copy (file's columns)`, `psql \copy (learners' columns)`}, "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := runCLI(t, bin, tc.db, "", "bench", "--rows", "3000", "--dir", t.TempDir(), "--pairs", tc.pairs)
			lines := strings.Split(out, "\n")
			row := func(phase string) string {
				for _, l := range lines {
					if strings.HasPrefix(strings.TrimSpace(l), phase+" ") {
						return l
					}
				}
				t.Fatalf("no %q row in:\n%s", phase, out)
				return ""
			}
			if l := row("commit new"); !strings.Contains(l, "3000 new, 0 updated, 0 unchanged") {
				t.Errorf("commit new: %s", l)
			}
			if l := row("re-import identical"); !strings.Contains(l, "0 new, 0 updated, 3000 unchanged") {
				t.Errorf("re-import identical: %s", l)
			}
			changed := regexp.MustCompile(`0 new, (\d+) updated, (\d+) unchanged`).FindStringSubmatch(row("re-import 10% changed"))
			if changed == nil || changed[1] == "0" {
				t.Errorf("re-import 10%% changed updated nobody:\n%s", out)
			}
			ratio := regexp.MustCompile(`commit new / this = \d+\.\d\dx`)
			for _, f := range tc.floors {
				if l := row(f); !ratio.MatchString(l) {
					t.Errorf("floor %s: %s", f, l)
				}
			}
			if tc.pairs != "0" {
				// Each pair commits the whole file into an organization of its own (which
				// takes the benchmark's domain over), then times the first floor.
				for _, p := range []string{"pair 1", "pair 2"} {
					if l := row(p + ": " + tc.floors[0]); !ratio.MatchString(l) {
						t.Errorf("%s: %s", p, l)
					}
					row(p + ": commit new")
				}
				if l := row("median of the pairs"); !regexp.MustCompile(`= \d+\.\d\dx \(\d+\.\d\d-\d+\.\d\dx\)`).MatchString(l) {
					t.Errorf("median: %s", l)
				}
			}
		})
	}
}
