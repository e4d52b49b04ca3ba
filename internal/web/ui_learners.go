package web

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/csvsafe"
	"github.com/roster-dev/roster/internal/idn"
)

func (s *Server) learnersPage(w http.ResponseWriter, r *http.Request) error {
	f, err := learnerFilter(r, 50)
	if err != nil {
		return err
	}
	start := time.Now()
	page, err := s.store.Learners(r.Context(), orgOf(r).ID, f)
	if err != nil {
		return err
	}
	queryTime := time.Since(start)
	// The directory's size and the filters' suggestions; the page works without them.
	dir, err := s.dirs.get(r.Context(), s.store, orgOf(r))
	if err != nil {
		s.log.Warn("learner directory summary", "err", err, "org", orgOf(r).ID)
		dir = &directory{Total: -1, Facets: &roster.LearnerFacets{}}
	}
	// A batch filter names the import it shows (its file), or just its ID if it is gone.
	var batch *roster.ImportBatch
	if f.Batch != "" {
		batch, err = s.store.ImportBatch(r.Context(), orgOf(r).ID, f.Batch)
		if err != nil {
			if roster.ErrorCode(err) != roster.ENOTFOUND {
				return err
			}
			batch = &roster.ImportBatch{ID: f.Batch}
		}
	}
	q := r.URL.Query()
	q.Del("cursor")
	filtered := f.Query != "" || f.Department != "" || f.Location != "" || f.Status != "" || f.Batch != ""
	return s.render(w, r, "learners", map[string]any{
		"Title": "Learners", "Nav": "learners", "Filter": f, "Page": page, "Facets": dir.Facets, "Total": dir.Total, "Batch": batch,
		"Params": q, "Filtered": filtered, "Paged": f.Cursor != "",
		"QueryTime": queryTime.Round(time.Millisecond / 10).String(),
	})
}

// learnersExport writes every learner the current filters select, in the current order,
// as CSV. Cells are neutralised against formula injection, since the file is made to be
// opened in a spreadsheet.
func (s *Server) learnersExport(w http.ResponseWriter, r *http.Request) error {
	f, err := learnerFilter(r, 1000)
	if err != nil {
		return err
	}
	f.Cursor = ""
	org := orgOf(r)
	// Every matching learner as of one moment (one statement): paging through Learners, an
	// import committed during a slow download moved learners behind the export (missing)
	// or ahead of it (listed twice).
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	started, gone := false, false
	start := func() {
		started = true
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="learners-`+s.now().UTC().Format("2006-01-02")+`.csv"`)
		header := make([]string, 0, len(roster.Columns)+2)
		for _, c := range roster.Columns {
			header = append(header, c.Name)
		}
		_ = cw.Write(append(header, "status", "created_at"))
	}
	rec := make([]string, 0, len(roster.Columns)+2)
	err = s.store.EachLearner(r.Context(), org.ID, f, func(l *roster.Learner) error {
		if !started {
			start()
		}
		rec = append(rec[:0], l.FirstName, l.LastName, l.Email, l.EmployeeID, l.JobTitle, l.Department,
			l.Location, l.ManagerEmail, strconv.FormatBool(l.Active), l.Status, l.CreatedAt.UTC().Format(time.RFC3339))
		for i := range rec {
			rec[i] = csvsafe.Cell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			gone = true // the client went away
			return err
		}
		return nil
	})
	switch {
	case gone:
		return nil
	case err != nil && !started:
		return err // nothing sent yet: an error page
	case err != nil:
		// Half a file must not look like a whole one: abort the answer, which the
		// browser reports as a failed download.
		s.log.Error("export cut short", "org", org.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		start() // no learners: the header alone
	}
	cw.Flush()
	return nil
}

// fieldSource is one row of the learner page: a value and where it came from.
type fieldSource struct {
	Label, Value, Source string
	Batch                *roster.ImportBatch
}

func (s *Server) learnerPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	org := orgOf(r)
	l, err := s.store.Learner(ctx, org.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var batches []*roster.ImportBatch
	var created, updated *roster.ImportBatch
	if l.CreatedBatchID != "" {
		if created, err = s.store.ImportBatch(ctx, org.ID, l.CreatedBatchID); err == nil {
			batches = append(batches, created)
		} else if roster.ErrorCode(err) != roster.ENOTFOUND {
			return err
		}
	}
	if l.UpdatedBatchID != "" && l.UpdatedBatchID != l.CreatedBatchID {
		if updated, err = s.store.ImportBatch(ctx, org.ID, l.UpdatedBatchID); err == nil {
			batches = append(batches, updated)
		} else if roster.ErrorCode(err) != roster.ENOTFOUND {
			return err
		}
	}
	// Uploads are the only writer of learners so far, so a value's source is the last
	// batch that wrote the learner. Field-level provenance (HRIS, the learner) needs the
	// store to record it per field.
	last := updated
	if last == nil {
		last = created
	}
	src := "Set outside an import"
	if last != nil {
		src = "File upload"
	}
	fields := []fieldSource{
		{"First name", l.FirstName, src, last}, {"Last name", l.LastName, src, last},
		{"Email", idn.UnicodeEmail(l.Email), src, created}, {"Employee ID", l.EmployeeID, src, last},
		{"Job title", l.JobTitle, src, last}, {"Department", l.Department, src, last},
		{"Location", l.Location, src, last}, {"Manager", idn.UnicodeEmail(l.ManagerEmail), src, last},
		{"Membership", map[string]string{roster.StatusActive: "Active", roster.StatusInactive: "Inactive"}[l.Status], src, last},
	}
	for i := range fields {
		if fields[i].Value == "" {
			fields[i].Source, fields[i].Batch = "", nil
		}
	}
	return s.render(w, r, "learner", map[string]any{
		"Title": l.FirstName + " " + l.LastName, "Nav": "learners", "Learner": l,
		"Fields": fields, "Batches": batches,
	})
}
