package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
	"github.com/roster-dev/roster/internal/sqlite"
)

// BenchmarkLearnersPage measures the server time of the Learners tab (the whole handler:
// session, store query, template) over a store of ROSTER_BENCH_LEARNERS learners
// (default 1,000,000), written once through the store's import transaction.
//
//	go test -run '^$' -bench LearnersPage -benchtime 50x ./internal/web
func BenchmarkLearnersPage(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("ROSTER_BENCH_LEARNERS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	org := &roster.Organization{Slug: "bench", Name: "Bench", Domains: []string{"bench.com"}}
	if err := store.CreateOrganization(ctx, org); err != nil {
		b.Fatal(err)
	}
	depts := []string{"Engineering", "Sales", "Marketing", "Finance", "People", "Support", "Legal", "Operations"}
	locs := []string{"London", "Paris", "Berlin", "Lagos", "Tokyo", "Austin", "São Paulo", "Bengaluru", "Sydney", "Toronto"}
	first := []string{"Ada", "Grace", "José", "Zoë", "Amara", "Yui", "Lukas", "Priya", "Chen", "Sofia", "Omar", "Nguyễn", "Olga", "Kwame"}
	last := []string{"Lovelace", "Hopper", "Núñez", "O'Brien", "Okafor", "Tanaka", "Schmidt", "Raman", "Wei", "Rossi", "Haddad", "Anh", "Petrova", "Mensah"}
	rng := rand.New(rand.NewPCG(1, 2))
	_, err = store.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		chunk := make([]roster.LearnerChange, 0, 10_000)
		for i := 0; i < n; i++ {
			chunk = append(chunk, roster.LearnerChange{Row: i + 2, Kind: roster.ChangeNew, After: roster.Learner{
				Email: fmt.Sprintf("person%07d@bench.com", i), FirstName: first[rng.IntN(len(first))], LastName: last[rng.IntN(len(last))],
				EmployeeID: fmt.Sprintf("E%07d", i), JobTitle: "Specialist", Department: depts[rng.IntN(len(depts))],
				Location: locs[rng.IntN(len(locs))], Active: rng.IntN(3) > 0,
			}})
			if len(chunk) == cap(chunk) || i == n-1 {
				if err := tx.Write(ctx, chunk); err != nil {
					return nil, err
				}
				chunk = chunk[:0]
			}
		}
		return &roster.ImportBatch{CreatedBy: "bench", FileName: "bench.csv", Rows: n, New: n}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := auth.HashPassword("bench-password")
	admin := &roster.Admin{OrgID: org.ID, Email: "admin@bench.com", PasswordHash: hash}
	if err := store.CreateAdmin(ctx, admin); err != nil {
		b.Fatal(err)
	}
	secret := auth.NewSecret()
	if err := store.CreateSession(ctx, &roster.Session{TokenHash: auth.Digest(secret), AdminID: admin.ID, OrgID: org.ID,
		CSRFToken: auth.NewSecret(), CreatedAt: srv.now(), ExpiresAt: srv.now().Add(24 * 60 * 60 * 1e9)}); err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, path string) string {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: "roster_session", Value: secret})
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("GET %s: %d\n%s", path, w.Code, w.Body.String())
		}
		return w.Body.String()
	}
	// A cursor deep in the list: follow "next" a few pages from the middle of the alphabet.
	deep := get(b, "/learners?sort=email")
	for i := 0; i < 3; i++ {
		m := regexpNext.FindStringSubmatch(deep)
		if m == nil {
			b.Fatal("no next link")
		}
		deep = get(b, strings.ReplaceAll(m[1], "&amp;", "&"))
	}
	deepURL := strings.ReplaceAll(regexpNext.FindStringSubmatch(deep)[1], "&amp;", "&")
	prevURL := strings.ReplaceAll(regexpPrev.FindStringSubmatch(deep)[1], "&amp;", "&")

	for _, c := range []struct{ name, path string }{
		{"first-page", "/learners"},
		{"next-page", deepURL},
		{"previous-page", prevURL},
		{"sort-email-desc", "/learners?sort=email&order=desc"},
		{"sort-location", "/learners?sort=location"},
		{"filter-dept-status", "/learners?department=Sales&status=active"},
		{"search-email", "/learners?q=person0999"},
		{"search-name", "/learners?q=okafor"},
		{"search-rare", "/learners?q=nobody-matches-this"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				get(b, c.path)
			}
		})
	}
}
