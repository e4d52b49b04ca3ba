package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/roster-dev/roster"
)

// httpError is an error of the transport itself (a body too large, a wrong content type,
// a missing credential) that has no domain code. Its Code is stable: API clients may
// switch on it.
type httpError struct {
	Status  int
	Code    string
	Message string
	Err     error
}

func (e *httpError) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *httpError) Unwrap() error { return e.Err }

// Transport error codes, next to the domain codes of package roster.
const (
	codeUnauthorized     = "unauthorized"
	codeTooLarge         = "too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
	codeRateLimited      = "rate_limited"
)

func errBadRequest(format string, args ...any) error {
	return roster.Errorf(roster.EINVALID, format, args...)
}

// errorStatus is the one place that maps an error to an HTTP status, a stable code and
// the message the user sees. Internal errors get a plain message; their cause is logged.
func errorStatus(err error) (status int, code, message string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status, he.Code, he.Message
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, codeTooLarge, "The file is larger than this server accepts."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, roster.EUNAVAILABLE, unavailableMessage
	}
	code = roster.ErrorCode(err)
	message = roster.ErrorMessage(err)
	switch code {
	case roster.EUNAVAILABLE:
		return http.StatusServiceUnavailable, code, unavailableMessage
	case roster.EINVALID:
		status = http.StatusBadRequest
	case roster.ENOTFOUND:
		status = http.StatusNotFound
	case roster.ECONFLICT, roster.ESTALE:
		status = http.StatusConflict
	case roster.EFORBIDDEN:
		status = http.StatusForbidden
	default:
		code, status = roster.EINTERNAL, http.StatusInternalServerError
	}
	return status, code, message
}

// unavailableMessage is what a user reads when the store is down or too slow.
const unavailableMessage = "Roster cannot reach its database right now. Nothing was changed; try again in a moment."

// statusClientClosed is what the log and the metrics record for a request whose client
// went away (or that the shutdown cut) before it was answered: nginx's 499. It is not a
// fault of ours, so it must not count as a 5xx.
const statusClientClosed = 499

// gone says whether err is the request's own end: its client went away (or the server
// closed the connection at the end of the shutdown's grace period).
func gone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && errors.Is(err, context.Canceled)
}

// answerGone records a request whose client is gone, and sends nothing: it aborts the
// response (http.ErrAbortHandler), which closes the connection. The 499 goes to the log and
// the metrics only (ServeHTTP records it): a client that merely closed its sending side
// still reads, and a made-up status line is no answer for it.
func (s *Server) answerGone(w http.ResponseWriter, r *http.Request, err error) {
	s.metrics.httpErrors.WithLabelValues("canceled").Inc()
	s.log.Info("request cancelled before its answer", "route", routeLabel(r), "method", r.Method, "path", r.URL.Path, "org", orgIDFor(r), "err", err)
	if ri, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
		ri.gone = true
	}
	panic(http.ErrAbortHandler)
}

// errorBody is the one shape of every API error.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// logError logs an error response with its cause (5xx at error level, the rest at debug)
// and counts it by code.
func (s *Server) logError(r *http.Request, status int, err error) {
	_, code, _ := errorStatus(err)
	s.metrics.httpErrors.WithLabelValues(code).Inc()
	if status >= 500 {
		s.log.Error("request failed", "route", routeLabel(r), "method", r.Method, "path", r.URL.Path, "org", orgIDFor(r), "status", status, "err", err)
	} else {
		s.log.Debug("request refused", "route", routeLabel(r), "method", r.Method, "path", r.URL.Path, "org", orgIDFor(r), "status", status, "code", code, "err", err)
	}
}

// renderJSONError writes err as {"error":{"code","message"}}.
func (s *Server) renderJSONError(w http.ResponseWriter, r *http.Request, err error) {
	if gone(r, err) {
		s.answerGone(w, r, err)
		return
	}
	status, code, msg := errorStatus(err)
	s.logError(r, status, err)
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, b)
}

// renderError writes err as JSON under /api/ and as an HTML page elsewhere.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	if isAPI(r) {
		s.renderJSONError(w, r, err)
		return
	}
	if gone(r, err) {
		s.answerGone(w, r, err)
		return
	}
	status, code, msg := errorStatus(err)
	s.logError(r, status, err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	title := http.StatusText(status)
	switch status {
	case http.StatusNotFound:
		title, msg = "Page not found", "There is nothing here. The link may be old, or the page belongs to another organization."
	case http.StatusInternalServerError:
		title = "Something went wrong"
	case http.StatusServiceUnavailable:
		title = "Try again in a moment"
	}
	s.renderStatus(w, r, status, "error", map[string]any{"Title": title, "Message": msg, "Code": code, "Status": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
