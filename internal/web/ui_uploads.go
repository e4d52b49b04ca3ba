package web

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
)

// The upload wizard: 1 choose a file, 2 resolve errors, 3 preview, 4 result.

func (s *Server) templateCSV(w http.ResponseWriter, r *http.Request) error {
	writeTemplate(w)
	return nil
}

func (s *Server) uploadNewPage(w http.ResponseWriter, r *http.Request) error {
	data := map[string]any{
		"Title": "Upload learners", "Nav": "upload", "Columns": roster.Columns,
		"MaxSize": humanSize(s.cfg.Limits.MaxBytes), "MaxRows": formatInt(s.cfg.Limits.MaxRows),
		"Step": 1,
	}
	// "Upload the corrected file" from the resolve-errors view names the file it replaces.
	if id := r.URL.Query().Get("replace"); id != "" {
		if u, err := s.store.Upload(r.Context(), orgOf(r).ID, id); err == nil {
			data["Replaces"] = u
		}
	}
	return s.render(w, r, "upload_new", data)
}

// isFetch tells the wizard's script (which wants JSON and polls progress) from a plain
// form post (which wants a page).
func isFetch(r *http.Request) bool { return r.Header.Get("X-Requested-With") == "fetch" }

func (s *Server) uploadSubmit(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	fetch := isFetch(r)
	check := func(formToken string) bool {
		tok := formToken
		if fetch && tok == "" {
			tok = r.Header.Get("X-CSRF-Token")
		}
		return auth.Equal(tok, p.Session.CSRFToken)
	}
	u, err := s.receiveUpload(w, r, p, check)
	if err != nil {
		if fetch {
			s.renderJSONError(w, r, err)
			return nil
		}
		status, _, msg := errorStatus(err)
		if status >= 500 {
			return err
		}
		s.logError(r, status, err)
		data := map[string]any{
			"Title": "Upload learners", "Nav": "upload", "Columns": roster.Columns,
			"MaxSize": humanSize(s.cfg.Limits.MaxBytes), "MaxRows": formatInt(s.cfg.Limits.MaxRows),
			"Step": 1, "UploadError": msg,
		}
		return s.renderStatus(w, r, status, "upload_new", data)
	}
	if fetch {
		// The script shows the validation's progress by polling the status URL.
		s.startValidation(p.Org.ID, u)
		writeJSON(w, http.StatusCreated, map[string]string{
			"id": u.ID, "url": "/uploads/" + u.ID, "status_url": "/uploads/" + u.ID + "/status",
		})
		return nil
	}
	if _, err := s.validate(r.Context(), p.Org.ID, u, nil); err != nil {
		return err
	}
	http.Redirect(w, r, "/uploads/"+u.ID, http.StatusSeeOther)
	return nil
}

// uploadStatus is polled by the wizard while a file is validated.
func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request) error {
	org := orgOf(r)
	u, err := s.store.Upload(r.Context(), org.ID, r.PathValue("id"))
	if err != nil {
		s.renderJSONError(w, r, err)
		return nil
	}
	jb, running := s.jobs.get(u.ID)
	if !running && len(u.Report) == 0 {
		s.startValidation(org.ID, u)
		jb, _ = s.jobs.get(u.ID)
	}
	if len(u.Report) > 0 && !running {
		jb.Done = true
	}
	if jb.Size == 0 {
		jb.Size = u.Size
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"done": jb.Done, "rows": jb.Rows, "bytes": jb.Bytes, "size": jb.Size, "error": jb.Error,
		"url": "/uploads/" + u.ID,
	})
	return nil
}

const errorsPerPage = 50

type codeCount struct {
	Code  string
	Count int
}

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	org := orgOf(r)
	id := r.PathValue("id")
	u, err := s.store.Upload(ctx, org.ID, id)
	if err != nil {
		return err
	}
	rep, err := reportOf(u)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": u.FileName, "Nav": "upload", "Upload": u, "Report": rep}
	if rep == nil {
		// Still being validated (or the server restarted meanwhile): a page that polls.
		if _, running := s.jobs.get(u.ID); !running {
			s.startValidation(org.ID, u)
		}
		data["Step"] = 1
		return s.render(w, r, "upload_checking", data)
	}
	if u.Status == roster.UploadCommitted {
		data["Title"], data["Step"] = "Import complete", 4
		if u.BatchID != "" {
			if b, err := s.store.ImportBatch(ctx, org.ID, u.BatchID); err == nil {
				data["Batch"] = b
			}
		}
		return s.render(w, r, "upload_result", data)
	}
	if !rep.Valid {
		data["Title"], data["Step"] = "Resolve errors", 2
		var codes []codeCount
		for c, n := range rep.ErrorCodes {
			codes = append(codes, codeCount{c, n})
		}
		if len(codes) == 0 { // a report from a pipeline that does not count per code
			m := map[string]int{}
			for _, e := range rep.Errors {
				m[e.Code]++
			}
			for c, n := range m {
				codes = append(codes, codeCount{c, n})
			}
		}
		sort.Slice(codes, func(i, j int) bool {
			if codes[i].Count != codes[j].Count {
				return codes[i].Count > codes[j].Count
			}
			return codes[i].Code < codes[j].Code
		})
		data["Codes"] = codes
		pageNo := 1
		if v := r.URL.Query().Get("page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return errBadRequest("page must be a whole number from 1.")
			}
			pageNo = n
		}
		pages := (rep.ErrorCount + errorsPerPage - 1) / errorsPerPage
		if pages == 0 {
			pages = 1
		}
		if pageNo > pages {
			pageNo = pages
		}
		errs, err := s.store.UploadErrors(ctx, org.ID, u.ID, (pageNo-1)*errorsPerPage, errorsPerPage)
		if err != nil {
			return err
		}
		data["Errors"], data["Page"], data["Pages"] = errs, pageNo, pages
		data["FirstRow"] = (pageNo-1)*errorsPerPage + 1
		data["LastRow"] = (pageNo-1)*errorsPerPage + len(errs)
		return s.render(w, r, "upload_errors", data)
	}
	data["Title"], data["Step"] = "Preview", 3
	sample := s.preview.get(u.ID)
	if sample == nil || sample.BaseVersion != u.BaseVersion {
		// Not in this process's cache: read the file again for the preview tables.
		if rep, err = s.validate(ctx, org.ID, u, nil); err != nil {
			return err
		}
		data["Report"] = rep
		if !rep.Valid || rep.Committed { // committed meanwhile: the page shows the result
			http.Redirect(w, r, "/uploads/"+u.ID, http.StatusSeeOther)
			return nil
		}
		sample = s.preview.get(u.ID)
	}
	data["Sample"] = sample
	data["Columns"] = roster.Columns
	return s.render(w, r, "upload_preview", data)
}

func (s *Server) uploadErrorsCSV(w http.ResponseWriter, r *http.Request) error {
	return s.writeUploadErrors(w, r, r.PathValue("id"))
}

func (s *Server) uploadCommit(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	id := r.PathValue("id")
	_, stale, err := s.commitUpload(r.Context(), p, id)
	if roster.ErrorCode(err) == roster.ECONFLICT {
		// The page the upload is on explains why (errors, or still being checked).
		http.Redirect(w, r, "/uploads/"+id, http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	if stale {
		http.Redirect(w, r, "/uploads/"+id+"?flash=stale", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/uploads/"+id, http.StatusSeeOther)
	return nil
}

func (s *Server) importsPage(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.store.ImportBatches(r.Context(), orgOf(r).ID, 500)
	if err != nil {
		return err
	}
	return s.render(w, r, "imports", map[string]any{"Title": "Import history", "Nav": "imports", "Batches": bs})
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request) error {
	b, err := s.store.ImportBatch(r.Context(), orgOf(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.render(w, r, "import", map[string]any{"Title": fmt.Sprintf("Import of %s", b.FileName), "Nav": "imports", "Batch": b})
}
