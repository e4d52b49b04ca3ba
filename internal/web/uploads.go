package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
)

// The upload flow shared by the wizard and the API: stream the file into the store,
// validate it from the store, keep the report; commit it later, once.

// multipartOverhead is what a form adds around the file (boundaries, part headers, the
// CSRF field); a body beyond MaxBytes plus this is refused with 413 before it is stored.
const multipartOverhead = 1 << 20

// errReader remembers the first error its reader returned, so that a failed store write
// can be blamed on the request (truncated, too large) rather than on the store.
type errReader struct {
	r   io.Reader
	err error
	n   int64
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// capReader fails once its reader yields more than left bytes: a file over the limit is
// refused with 413 as soon as it is known, and what was stored of it is discarded.
type capReader struct {
	r    io.Reader
	left int64
}

var errFileTooLarge = errors.New("file over the size limit")

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errFileTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errFileTooLarge
	}
	return n, err
}

// receiveUpload streams the "file" part of a multipart request into the store. The
// request body is never held in memory: parts are read one by one (no ParseMultipartForm)
// and the file part is copied in chunks by the store.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request, p *principal, checkCSRF func(token string) bool) (_ *roster.Upload, err error) {
	defer func() {
		if err != nil {
			s.metrics.uploads.WithLabelValues("rejected").Inc()
		}
	}()
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" {
		return nil, &httpError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: "Send the file as multipart/form-data, in a field named \"file\"."}
	}
	limit := s.cfg.Limits.MaxBytes + multipartOverhead
	if r.ContentLength > limit {
		return nil, errTooLarge(s.cfg.Limits.MaxBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errBadRequest("The request is not a readable multipart form: %v.", err)
	}
	csrf := ""
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, errBadRequest("The form has no file. Send it in a field named \"file\".")
		}
		if err != nil {
			return nil, s.bodyError(err)
		}
		switch part.FormName() {
		case "csrf":
			b, err := io.ReadAll(io.LimitReader(part, 200))
			if err != nil {
				return nil, s.bodyError(err)
			}
			csrf = string(b)
		case "file":
			if checkCSRF != nil && !checkCSRF(csrf) {
				return nil, errCSRF
			}
			return s.storeFilePart(r.Context(), p, part)
		}
		part.Close()
	}
}

func (s *Server) storeFilePart(ctx context.Context, p *principal, part *multipart.Part) (*roster.Upload, error) {
	name := cleanFileName(part.FileName())
	if name == "" {
		return nil, errBadRequest("The \"file\" field holds no file. Choose a CSV or XLSX file.")
	}
	er := &errReader{r: &capReader{r: part, left: s.cfg.Limits.MaxBytes}}
	u := &roster.Upload{OrgID: p.Org.ID, CreatedBy: p.actor(), FileName: name, Status: roster.UploadValidated}
	if err := s.store.CreateUpload(ctx, u, er); err != nil {
		if er.err != nil {
			return nil, s.bodyError(er.err)
		}
		return nil, err
	}
	if er.err != nil { // a store that swallowed the read error
		return nil, s.bodyError(er.err)
	}
	return u, nil
}

func errTooLarge(max int64) error {
	return &httpError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
		Message: "The file is larger than the " + humanSize(max) + " this server accepts. Split it into smaller files."}
}

// bodyError explains an error met while reading the request body.
func (s *Server) bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, errFileTooLarge) {
		return errTooLarge(s.cfg.Limits.MaxBytes)
	}
	if errors.Is(err, context.Canceled) {
		return &httpError{Status: http.StatusBadRequest, Code: roster.EINVALID, Message: "The upload was cancelled.", Err: err}
	}
	return &httpError{Status: http.StatusBadRequest, Code: roster.EINVALID,
		Message: "The upload was cut off before the end of the file. Try again.", Err: err}
}

// cleanFileName keeps the base name of what the browser sent, without control characters.
func cleanFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return name
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return formatInt(int(n>>30)) + " GiB"
	case n >= 1<<20:
		return formatInt(int(n>>20)) + " MiB"
	case n >= 1<<10:
		return formatInt(int(n>>10)) + " KiB"
	}
	return formatInt(int(n)) + " bytes"
}

// previewSample holds the first new and changed learners of a valid file, for the
// preview tables. The report holds counts only.
type previewSample struct {
	BaseVersion int64
	New         []roster.LearnerChange
	Updated     []roster.LearnerChange
}

const previewRows = 100

// validate reads the stored file of u through the import pipeline against the
// organization as it is now, and stores the report, the version it saw and every error.
func (s *Server) validate(ctx context.Context, orgID string, u *roster.Upload, progress func(rows int, bytes int64)) (_ *roster.ImportReport, err error) {
	// An upload without a report is validated for the first time: that is when it counts
	// as an upload. Validating again (a stale preview, a lost sample) counts rows only.
	first := len(u.Report) == 0
	start := time.Now()
	defer func() {
		if err != nil && first && ctx.Err() == nil {
			s.metrics.uploads.WithLabelValues("failed").Inc()
		}
	}()
	release, err := s.fileSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	// Read the version before the file: a commit that lands during validation makes this
	// report stale, never silently current.
	org, err := s.store.OrganizationByID(ctx, orgID)
	if err != nil {
		return nil, err
	}
	rc, err := s.store.OpenUploadFile(ctx, orgID, u.ID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	spill, err := newErrorSpill()
	if err != nil {
		return nil, err
	}
	defer spill.close()
	sample := &previewSample{BaseVersion: org.LearnersVersion}
	var mu sync.Mutex // the pipeline may call back from several goroutines
	rep, err := importer.Run(ctx, importer.Input{Name: u.FileName, R: rc}, importer.Env{
		Org: org, Lookup: s.store.Lookup(orgID), Limits: s.cfg.Limits,
		OnError: func(e roster.RowError, warning bool) {
			if !warning { // warnings are in the report; only errors are kept in full
				mu.Lock()
				spill.add(e)
				mu.Unlock()
			}
		},
		OnChange: func(c roster.LearnerChange) {
			mu.Lock()
			defer mu.Unlock()
			switch c.Kind {
			case roster.ChangeNew:
				if len(sample.New) < previewRows {
					sample.New = append(sample.New, c)
				}
			case roster.ChangeUpdated:
				if len(sample.Updated) < previewRows {
					sample.Updated = append(sample.Updated, c)
				}
			}
		},
		Progress: progress,
	})
	if err != nil {
		return nil, err
	}
	if err := spill.finish(); err != nil {
		return nil, err
	}
	s.metrics.validateDur.Observe(time.Since(start).Seconds())
	s.metrics.rows.WithLabelValues("validate").Add(float64(rep.Rows))
	s.metrics.countImportErrors(rep)
	if first {
		outcome := "valid"
		if !rep.Valid {
			outcome = "invalid"
		}
		s.metrics.uploads.WithLabelValues(outcome).Inc()
	}
	slices.SortFunc(sample.New, func(a, b roster.LearnerChange) int { return a.Row - b.Row })
	slices.SortFunc(sample.Updated, func(a, b roster.LearnerChange) int { return a.Row - b.Row })
	rep.ID = u.ID
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	// The store sorts the errors as it saves them, pulling them from the spill file.
	saveCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := s.store.SaveUploadResult(saveCtx, orgID, u.ID, b, org.LearnersVersion, spill.all(cancel)); err != nil {
		if cause := context.Cause(saveCtx); cause != nil && ctx.Err() == nil {
			return nil, cause // the spill file failed, not the store
		}
		if roster.ErrorCode(err) == roster.ECONFLICT {
			// Committed meanwhile, by another request or instance: its report is final,
			// and this one (computed against learners the commit may have changed) is
			// dropped.
			if cu, uerr := s.store.Upload(ctx, orgID, u.ID); uerr == nil && cu.Status == roster.UploadCommitted {
				return reportOf(cu)
			}
		}
		return nil, err
	}
	u.Report, u.BaseVersion = b, org.LearnersVersion
	s.preview.put(u.ID, sample)
	return rep, nil
}

// fileSlot waits for one of the Config.FileWorkers slots for reading a file, until ctx
// ends; release gives it back. One caller holds one slot at a time (a commit gives its
// slot back before it validates again), so slots cannot deadlock.
func (s *Server) fileSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.files <- struct{}{}:
		return func() { <-s.files }, nil
	default:
	}
	s.metrics.fileQueue.Inc()
	defer s.metrics.fileQueue.Dec()
	select {
	case s.files <- struct{}{}:
		return func() { <-s.files }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// reportOf decodes an upload's stored report; nil while it is being validated.
func reportOf(u *roster.Upload) (*roster.ImportReport, error) {
	if len(u.Report) == 0 {
		return nil, nil
	}
	var rep roster.ImportReport
	if err := json.Unmarshal(u.Report, &rep); err != nil {
		return nil, err
	}
	if rep.Errors == nil {
		rep.Errors = []roster.RowError{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []roster.RowError{}
	}
	rep.ID = u.ID
	return &rep, nil
}

// commitUpload writes a validated upload, once. It returns stale=true (and the fresh
// report) when the organization's learners moved since the preview: the upload has then
// been validated again and nothing was written.
//
// Once started, a commit runs to its end: its context is detached from the request's, so
// neither a client that goes away nor a server shutdown cuts the transaction (the store's
// statement timeout still bounds each statement), and the shutdown waits for it (Wait).
// Without that, the import could commit while marking the upload committed is cut, and
// the admin would see an upload that looks uncommitted.
func (s *Server) commitUpload(ctx context.Context, p *principal, id string) (rep *roster.ImportReport, stale bool, err error) {
	ctx = context.WithoutCancel(ctx)
	done := s.work.start()
	defer done()
	s.metrics.commitsFlight.Inc()
	defer s.metrics.commitsFlight.Dec()
	start := time.Now()
	outcome := "committed"
	defer func() {
		switch code := roster.ErrorCode(err); {
		case code == roster.ECONFLICT:
			outcome = "conflict"
		case err != nil:
			outcome = "failed"
		case stale:
			outcome = "stale"
		}
		s.metrics.commits.WithLabelValues(outcome).Inc()
		if outcome == "committed" {
			s.metrics.commitDur.Observe(time.Since(start).Seconds())
		}
	}()
	// A double click sends two commits: the second waits here, then finds the upload
	// committed and returns its report without writing anything.
	unlock := s.locks.Lock(p.Org.ID + "/" + id)
	defer unlock()
	u, err := s.store.Upload(ctx, p.Org.ID, id)
	if err != nil {
		return nil, false, err
	}
	if u.Status == roster.UploadCommitted {
		outcome = "already_committed"
		rep, err := reportOf(u)
		return rep, false, err
	}
	rep, err = reportOf(u)
	if err != nil {
		return nil, false, err
	}
	if rep == nil {
		return nil, false, roster.Errorf(roster.ECONFLICT, "The file is still being checked. Wait until its report is ready.")
	}
	if !rep.Valid {
		return rep, false, roster.Errorf(roster.ECONFLICT, "The file has %s %s. Fix them and upload the corrected file; nothing was written.", formatInt(rep.ErrorCount), pluralS(rep.ErrorCount, "error", "errors"))
	}
	org, err := s.store.OrganizationByID(ctx, p.Org.ID)
	if err != nil {
		return nil, false, err
	}
	rc, err := s.store.OpenUploadFile(ctx, p.Org.ID, id)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	release, err := s.fileSlot(ctx)
	if err != nil {
		return nil, false, err
	}
	rep, err = importer.Commit(ctx, s.store, importer.Input{Name: u.FileName, R: rc},
		importer.Env{Org: org, Limits: s.cfg.Limits}, u.BaseVersion, p.actor())
	release() // before revalidate, which takes a slot of its own
	revalidate := func() (*roster.ImportReport, bool, error) {
		rc.Close()
		rep, err := s.validate(ctx, p.Org.ID, u, nil)
		if err == nil && rep.Committed {
			// Another instance committed this very upload while this one waited for
			// the organization: that commit is the one that counts.
			outcome = "already_committed"
			return rep, false, nil
		}
		return rep, true, err
	}
	if roster.ErrorCode(err) == roster.ESTALE {
		return revalidate()
	}
	if err != nil {
		return nil, false, err
	}
	rep.ID = id
	if !rep.Valid { // the organization changed (its domains, say) without a learner write
		return revalidate()
	}
	s.metrics.rows.WithLabelValues("commit").Add(float64(rep.Rows))
	rep.Committed = true
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, false, err
	}
	if err := s.store.MarkUploadCommitted(ctx, p.Org.ID, id, rep.BatchID, b); err != nil {
		if roster.ErrorCode(err) != roster.ENOTFOUND {
			return nil, false, err
		}
		// The clean-up removed the upload while it was being committed (its time ran out
		// meanwhile): the learners are written all the same, and the answer must say so,
		// not "upload not found".
		s.log.Warn("upload removed by the clean-up during its commit; the learners are written",
			"upload", id, "org", p.Org.ID, "batch", rep.BatchID)
	}
	s.preview.drop(id)
	return rep, false, nil
}

func pluralS(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// previewCache keeps the preview samples of recent uploads. A sample missing from it (a
// restart, another instance) is rebuilt by validating the file again.
type previewCache struct {
	mu    sync.Mutex
	max   int
	order []string
	m     map[string]*previewSample
}

func newPreviewCache(max int) *previewCache {
	return &previewCache{max: max, m: map[string]*previewSample{}}
}

func (c *previewCache) put(id string, p *previewSample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok {
		c.order = append(c.order, id)
	}
	c.m[id] = p
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *previewCache) get(id string) *previewSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *previewCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// job is a validation running in the background for the wizard, which polls its progress.
type job struct {
	Rows  int       `json:"rows"`
	Bytes int64     `json:"bytes"`
	Size  int64     `json:"size"`
	Done  bool      `json:"done"`
	Error string    `json:"error,omitempty"`
	start time.Time `json:"-"`
}

type jobs struct {
	mu sync.Mutex
	m  map[string]*job
}

func newJobs() *jobs { return &jobs{m: map[string]*job{}} }

func (j *jobs) get(id string) (job, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if x, ok := j.m[id]; ok {
		return *x, true
	}
	return job{}, false
}

// startValidation validates u in the background (once per upload at a time) and returns
// at once; the wizard polls /uploads/{id}/status.
func (s *Server) startValidation(orgID string, u *roster.Upload) {
	s.jobs.mu.Lock()
	if x, ok := s.jobs.m[u.ID]; ok && !x.Done {
		s.jobs.mu.Unlock()
		return
	}
	jb := &job{Size: u.Size, start: s.now()}
	s.jobs.m[u.ID] = jb
	// Forget finished jobs after a while; the store has their result.
	for id, x := range s.jobs.m {
		if x.Done && s.now().Sub(x.start) > time.Hour {
			delete(s.jobs.m, id)
		}
	}
	s.jobs.mu.Unlock()
	done := s.work.start()
	go func() {
		defer done()
		_, err := s.validate(s.ctx, orgID, u, func(rows int, bytes int64) {
			s.jobs.mu.Lock()
			jb.Rows, jb.Bytes = rows, bytes
			s.jobs.mu.Unlock()
		})
		s.jobs.mu.Lock()
		jb.Done = true
		if err != nil && s.ctx.Err() != nil {
			// Shutting down: no error for the page; whichever instance the wizard's next
			// poll reaches validates the file again.
			s.jobs.mu.Unlock()
			return
		}
		if err != nil {
			jb.Error = roster.ErrorMessage(err)
			s.log.Error("validation failed", "upload", u.ID, "org", orgID, "err", err)
		}
		s.jobs.mu.Unlock()
	}()
}
