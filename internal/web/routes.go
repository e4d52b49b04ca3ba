package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/roster-dev/roster"
)

// handler is what every page and endpoint is: it returns an error, and the wrapper that
// registered it renders that error as a page or as JSON.
type handler func(w http.ResponseWriter, r *http.Request) error

// apiRoute is one endpoint of the JSON API. The table drives both the router and the test
// that holds the OpenAPI document to it.
type apiRoute struct {
	Method, Path string
	h            handler
}

func (s *Server) apiRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/api/v1/openapi.json", s.apiOpenAPI},
		{"GET", "/api/v1/template.csv", s.apiTemplate},
		{"POST", "/api/v1/uploads", s.apiCreateUpload},
		{"GET", "/api/v1/uploads/{id}", s.apiUpload},
		{"GET", "/api/v1/uploads/{id}/errors.csv", s.apiUploadErrors},
		{"POST", "/api/v1/uploads/{id}/commit", s.apiCommitUpload},
		{"GET", "/api/v1/learners", s.apiLearners},
		{"GET", "/api/v1/learners/{id}", s.apiLearner},
		{"GET", "/api/v1/imports", s.apiImports},
		{"GET", "/api/v1/imports/{id}", s.apiImport},
	}
}

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /static/", s.static)
	// Probes and metrics: no session, no CSRF, no organization (ops.go).
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	if !s.cfg.HideMetrics {
		m.Handle("GET /metrics", s.MetricsHandler())
	}

	// Pages that need no session.
	// quick marks what answers from the store in milliseconds: RequestTimeout bounds it.
	// Uploads, commits, the upload page (which may check its file again) and downloads
	// take as long as their file and are left out.
	quick := s.quick
	m.Handle("GET /setup", quick(s.public(s.setupPage)))
	m.Handle("POST /setup", quick(s.public(s.setupSubmit)))
	m.Handle("GET /signin", quick(s.public(s.signInPage)))
	m.Handle("POST /signin", quick(s.public(s.signInSubmit)))

	// Pages of a signed-in admin.
	m.Handle("POST /signout", quick(s.signedIn(s.signOut)))
	m.Handle("GET /{$}", quick(s.signedIn(func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/learners", http.StatusSeeOther)
		return nil
	})))
	m.Handle("GET /learners", quick(s.signedIn(s.learnersPage)))
	m.Handle("GET /learners/export.csv", s.signedIn(s.learnersExport))
	m.Handle("GET /learners/{id}", quick(s.signedIn(s.learnerPage)))
	m.Handle("GET /template.csv", quick(s.signedIn(s.templateCSV)))
	m.Handle("GET /uploads/new", quick(s.signedIn(s.uploadNewPage)))
	m.Handle("POST /uploads", s.signedInUpload(s.uploadSubmit))
	m.Handle("GET /uploads/{id}", s.signedIn(s.uploadPage))
	m.Handle("GET /uploads/{id}/status", quick(s.signedIn(s.uploadStatus)))
	m.Handle("GET /uploads/{id}/errors.csv", s.signedIn(s.uploadErrorsCSV))
	m.Handle("GET /uploads/{id}/rows-with-errors.csv", s.signedIn(s.uploadErrorRowsCSV))
	m.Handle("POST /uploads/{id}/commit", s.signedIn(s.uploadCommit))
	m.Handle("GET /imports", quick(s.signedIn(s.importsPage)))
	m.Handle("GET /imports/{id}", quick(s.signedIn(s.importPage)))
	m.Handle("GET /settings", quick(s.signedIn(s.settingsPage)))
	m.Handle("POST /settings/admins", quick(s.signedIn(s.settingsAddAdmin)))
	m.Handle("POST /settings/domains", quick(s.signedIn(s.settingsDomains)))
	m.Handle("POST /settings/tokens", quick(s.signedIn(s.settingsCreateToken)))
	m.Handle("POST /settings/tokens/{id}/revoke", quick(s.signedIn(s.settingsRevokeToken)))

	for _, rt := range s.apiRoutes() {
		h := s.apiAuth(rt.h)
		if rt.Path == "/api/v1/openapi.json" {
			h = s.apiPublic(rt.h) // the document describes the API; it holds no data
		}
		// Reads answer from the store; uploads and commits take as long as their file,
		// and GET of an upload may check its file again.
		if rt.Method == "GET" && !strings.HasPrefix(rt.Path, "/api/v1/uploads") {
			h = quick(h)
		}
		m.Handle(rt.Method+" "+rt.Path, h)
	}

	// Everything else: 404, or 405 when the path exists with another method.
	m.HandleFunc("/", s.notFound)
}

// quick bounds h by RequestTimeout (see Config.RequestTimeout); a store call cut by it
// answers 503.
func (s *Server) quick(h http.Handler) http.Handler {
	if s.cfg.RequestTimeout <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// notFound answers the requests no route took. The catch-all pattern also matches a known
// path with a wrong method, so it asks the mux whether another method would have matched.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if !isAPI(r) {
		// A signed-in admin gets the page with the top bar and a way back to the learners.
		if p, err := s.loadSession(r); err == nil && p != nil {
			r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		}
	}
	var allowed []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.renderError(w, r, &httpError{Status: http.StatusMethodNotAllowed, Code: codeMethodNotAllowed,
			Message: "This address does not accept " + r.Method + " requests."})
		return
	}
	msg := "No such page."
	if isAPI(r) {
		msg = "No such endpoint: " + r.Method + " " + r.URL.Path + ". See /api/v1/openapi.json."
	}
	s.renderError(w, r, roster.Errorf(roster.ENOTFOUND, "%s", msg))
}

func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}
