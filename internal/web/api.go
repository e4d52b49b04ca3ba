package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
)

// The JSON API of the import contract. Every handler reads the organization from the
// token (principalFrom) and passes its ID to the store, which filters on it.

func (s *Server) apiTemplate(w http.ResponseWriter, r *http.Request) error {
	writeTemplate(w)
	return nil
}

func writeTemplate(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="learners-template.csv"`)
	_, _ = w.Write(importer.Template())
}

func (s *Server) apiCreateUpload(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	u, err := s.receiveUpload(w, r, p, nil)
	if err != nil {
		return err
	}
	rep, err := s.validate(r.Context(), p.Org.ID, u, nil)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/uploads/"+u.ID)
	writeJSON(w, http.StatusCreated, rep)
	return nil
}

// uploadFor loads an upload of the caller's organization with its report, validating it
// first if no report was stored yet (a server restarted during validation).
func (s *Server) uploadFor(r *http.Request, id string) (*roster.Upload, *roster.ImportReport, error) {
	org := orgOf(r)
	u, err := s.store.Upload(r.Context(), org.ID, id)
	if err != nil {
		return nil, nil, err
	}
	rep, err := reportOf(u)
	if err != nil {
		return nil, nil, err
	}
	if rep == nil {
		if rep, err = s.validate(r.Context(), org.ID, u, nil); err != nil {
			return nil, nil, err
		}
	}
	return u, rep, nil
}

func (s *Server) apiUpload(w http.ResponseWriter, r *http.Request) error {
	_, rep, err := s.uploadFor(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) apiUploadErrors(w http.ResponseWriter, r *http.Request) error {
	return s.writeUploadErrors(w, r, r.PathValue("id"))
}

// writeUploadErrors streams every error of an upload as CSV, a page of the store at a time.
func (s *Server) writeUploadErrors(w http.ResponseWriter, r *http.Request, id string) error {
	org := orgOf(r)
	u, _, err := s.uploadFor(r, id)
	if err != nil {
		return err
	}
	const page = 10_000
	errs, err := s.store.UploadErrors(r.Context(), org.ID, id, 0, page)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+errorsFileName(u.FileName)+`"`)
	// The header comes with the first page; later pages are written without it.
	if err := importer.WriteErrorsCSV(w, errs); err != nil {
		return nil // the client went away; the status is already sent
	}
	for off := page; len(errs) == page; off += page {
		errs, err = s.store.UploadErrors(r.Context(), org.ID, id, off, page)
		if err != nil {
			s.log.Error("error CSV cut short", "upload", id, "err", err)
			return nil
		}
		if err := importer.WriteErrorsCSV(&skipLine{w: w}, errs); err != nil {
			return nil
		}
	}
	return nil
}

// skipLine drops what is written up to and including the first line break: the header of
// a later page of the error CSV, so that importer.WriteErrorsCSV stays the one writer.
type skipLine struct {
	w    io.Writer
	done bool
}

func (s *skipLine) Write(p []byte) (int, error) {
	n := len(p)
	if !s.done {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return n, nil
		}
		s.done, p = true, p[i+1:]
	}
	if _, err := s.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// commitRequest is the optional body of a commit: a script may name the file it means to
// commit, and the commit is refused if the upload holds another.
type commitRequest struct {
	SHA256 string `json:"sha256"`
}

func (s *Server) apiCommitUpload(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if r.ContentLength < 0 { // chunked: the body may still be empty
		br := bufio.NewReader(r.Body)
		if _, err := br.Peek(1); err == io.EOF {
			r.ContentLength = 0
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{br, r.Body}
	}
	if r.ContentLength != 0 {
		var req commitRequest
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		if req.SHA256 != "" {
			_, rep, err := s.uploadFor(r, r.PathValue("id"))
			if err != nil {
				return err
			}
			if !strings.EqualFold(req.SHA256, rep.File.SHA256) {
				return roster.Errorf(roster.ECONFLICT, "This upload holds a file whose SHA-256 is %s, not %s; nothing was written.", rep.File.SHA256, req.SHA256)
			}
		}
	}
	rep, stale, err := s.commitUpload(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if stale {
		return roster.Errorf(roster.ESTALE, "The organization's learners changed since this upload was checked. It has been checked again: read GET /api/v1/uploads/%s and commit again.", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// learnerFilter reads the list's query parameters, shared by the page, the export and
// the API. Bad values are refused, never guessed.
func learnerFilter(r *http.Request, defLimit int) (roster.LearnerFilter, error) {
	q := r.URL.Query()
	f := roster.LearnerFilter{
		Query: q.Get("q"), Department: q.Get("department"), Location: q.Get("location"),
		Status: q.Get("status"), Sort: q.Get("sort"), Cursor: q.Get("cursor"), Limit: defLimit,
		Batch: q.Get("batch"),
	}
	if len(f.Query) > 200 || len(f.Department) > 200 || len(f.Location) > 200 || len(f.Cursor) > 1000 || len(f.Batch) > 100 {
		return f, errBadRequest("A filter value is too long.")
	}
	switch f.Status {
	case "", roster.StatusActive, roster.StatusInactive:
	default:
		return f, errBadRequest("status must be %q or %q.", roster.StatusActive, roster.StatusInactive)
	}
	switch f.Sort {
	case "", "name", "email", "created", "department", "location":
	default:
		return f, errBadRequest("sort must be one of name, email, created, department, location.")
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		return f, errBadRequest("order must be asc or desc.")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return f, errBadRequest("limit must be a whole number from 1 to 1000.")
		}
		f.Limit = n
	}
	return f, nil
}

type learnersResponse struct {
	Learners   []roster.Learner `json:"learners"`
	NextCursor *string          `json:"next_cursor"`
	PrevCursor *string          `json:"prev_cursor"`
}

func (s *Server) apiLearners(w http.ResponseWriter, r *http.Request) error {
	f, err := learnerFilter(r, 50)
	if err != nil {
		return err
	}
	page, err := s.store.Learners(r.Context(), orgOf(r).ID, f)
	if err != nil {
		return err
	}
	resp := learnersResponse{Learners: page.Learners}
	if resp.Learners == nil {
		resp.Learners = []roster.Learner{}
	}
	if page.NextCursor != "" {
		resp.NextCursor = &page.NextCursor
	}
	if page.PrevCursor != "" {
		resp.PrevCursor = &page.PrevCursor
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) apiLearner(w http.ResponseWriter, r *http.Request) error {
	l, err := s.store.Learner(r.Context(), orgOf(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) apiImports(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return errBadRequest("limit must be a whole number from 1 to 1000.")
		}
		limit = n
	}
	bs, err := s.store.ImportBatches(r.Context(), orgOf(r).ID, limit)
	if err != nil {
		return err
	}
	if bs == nil {
		bs = []roster.ImportBatch{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"imports": bs})
	return nil
}

func (s *Server) apiImport(w http.ResponseWriter, r *http.Request) error {
	b, err := s.store.ImportBatch(r.Context(), orgOf(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// decodeJSON reads a small JSON request body into v. Every way it can go wrong is the
// client's: a wrong content type (415), a body too large (413) or not JSON (400).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &httpError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: "Send the body as application/json."}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: "The request body is too large."}
		}
		return jsonError(err)
	}
	if dec.More() {
		return errBadRequest("The body holds more than one JSON value.")
	}
	return nil
}

// jsonError says what is wrong with a JSON body in the API's terms, not Go's ("Go struct
// field commitRequest.sha256 of type string").
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return errBadRequest("The field %q must be %s.", typeErr.Field, jsonKind(typeErr.Type))
	case errors.As(err, &typeErr):
		return errBadRequest("The body must be a JSON object.")
	case errors.As(err, &syntaxErr):
		return errBadRequest("The body is not valid JSON (at byte %d).", syntaxErr.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errBadRequest("The body is not valid JSON: it ends too soon.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errBadRequest("The body has a field this request does not take: %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errBadRequest("The body is not valid JSON for this request.")
}

// jsonKind names a Go type as JSON calls it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// errorsFileName names the error CSV after the uploaded file: people.csv -> people-errors.csv.
func errorsFileName(name string) string {
	base := strings.TrimSuffix(name, path.Ext(name))
	base = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '_'
		}
		return r
	}, base)
	if base == "" {
		base = "upload"
	}
	return base + "-errors.csv"
}
