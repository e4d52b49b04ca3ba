package web

import (
	"context"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
)

// principal is who makes a request: a signed-in admin (with a session) or an API token,
// and always the organization that scopes everything the request reads or writes.
type principal struct {
	Org     *roster.Organization
	Admin   *roster.Admin
	Session *roster.Session
	Token   *roster.APIToken
}

// actor is how an import batch records who made it.
func (p *principal) actor() string {
	if p.Admin != nil {
		return p.Admin.Email
	}
	if p.Token != nil {
		return "api:" + p.Token.Name
	}
	return "unknown"
}

type ctxKey int

const principalKey ctxKey = 1

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	return p
}

// orgOf returns the organization of the request's caller; every store call takes its ID.
func orgOf(r *http.Request) *roster.Organization { return principalFrom(r.Context()).Org }

func (s *Server) sessionCookieName() string {
	if s.cfg.SecureCookies {
		return "__Host-roster_session" // the prefix pins the cookie to this host and HTTPS
	}
	return "roster_session"
}

func (s *Server) preCSRFCookieName() string {
	if s.cfg.SecureCookies {
		return "__Host-roster_csrf"
	}
	return "roster_csrf"
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true,
		Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
		MaxAge: int(maxAge / time.Second),
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// public wraps a page that needs no session (setup, sign-in). Its forms carry a CSRF token
// checked against a cookie (the double-submit pattern), since there is no session yet.
func (s *Server) public(h handler) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if c, err := r.Cookie(s.preCSRFCookieName()); err == nil && len(c.Value) == 43 {
			token = c.Value
		} else {
			token = auth.NewSecret()
			s.setCookie(w, s.preCSRFCookieName(), token, 2*time.Hour)
		}
		if r.Method == http.MethodPost {
			if err := readForm(w, r); err != nil {
				s.renderError(w, r, err)
				return
			}
			if !auth.Equal(r.PostFormValue("csrf"), token) || token == "" {
				s.renderError(w, r, errCSRF)
				return
			}
		}
		ctx := context.WithValue(r.Context(), principalKey, &principal{Session: &roster.Session{CSRFToken: token}})
		if err := h(w, r.WithContext(ctx)); err != nil {
			s.renderError(w, r, err)
		}
	}))
}

var errCSRF = &httpError{Status: http.StatusForbidden, Code: roster.EFORBIDDEN,
	Message: "This form has expired or did not come from Roster. Go back, reload the page and try again."}

// maxForm bounds the body of a form post (the upload form streams its file instead).
const maxForm = 64 << 10

// readForm reads a form post: url-encoded, at most maxForm bytes. A multipart body is
// refused before anything of it is read: parsed here it would be spooled to temporary
// files (which nothing would remove, the form being parsed on the middleware's copy of
// the request), and no form of ours but the upload sends one.
func readForm(w http.ResponseWriter, r *http.Request) error {
	// Any other body (multipart, JSON, text, or one without a Content-Type, which
	// ParseForm would silently ignore and the CSRF check then call "expired") is 415; a
	// post without a body needs no type.
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" && (r.ContentLength != 0 || ct != "") {
		return &httpError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMedia,
			Message: "Send this form as application/x-www-form-urlencoded, as Roster's pages do."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &httpError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge,
				Message: "The form is too large. Go back and shorten what you typed."}
		}
		return errBadRequest("The form could not be read.")
	}
	return nil
}

// signedIn wraps a page of a signed-in admin: it loads the session, the admin and the
// organization, sends anybody else to the sign-in page (or to setup on an empty store),
// and checks the CSRF token of every POST, which must be a url-encoded form (readForm).
func (s *Server) signedIn(h handler) http.Handler { return s.signedInWith(h, false) }

// signedInUpload is signedIn for the upload form: its POST is multipart, streamed by the
// handler, which checks the CSRF token (a header, or the form's first field) before it
// reads the file.
func (s *Server) signedInUpload(h handler) http.Handler { return s.signedInWith(h, true) }

func (s *Server) signedInWith(h handler, upload bool) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.loadSession(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if p == nil {
			if r.Method == http.MethodGet {
				if n, err := s.store.CountAdmins(r.Context()); err == nil && n == 0 {
					http.Redirect(w, r, "/setup", http.StatusSeeOther)
					return
				}
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.renderError(w, r, &httpError{Status: http.StatusUnauthorized, Code: codeUnauthorized,
				Message: "Your session has ended. Sign in again."})
			return
		}
		if r.Method == http.MethodPost && !upload {
			if err := readForm(w, r); err != nil {
				s.renderError(w, r, err)
				return
			}
			if !auth.Equal(r.PostFormValue("csrf"), p.Session.CSRFToken) {
				s.renderError(w, r, errCSRF)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		noteOrg(r.Context(), p.Org.ID)
		// The error page too knows who is signed in: it shows the top bar and a way back
		// to the learners, not "Sign in".
		r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		if err := h(w, r); err != nil {
			s.renderError(w, r, err)
		}
	}))
}

// loadSession returns the request's principal, or nil when it carries no valid session.
func (s *Server) loadSession(r *http.Request) (*principal, error) {
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	ctx := r.Context()
	sess, err := s.store.SessionByHash(ctx, auth.Digest(c.Value))
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		return nil, nil
	}
	admin, err := s.store.Admin(ctx, sess.OrgID, sess.AdminID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	org, err := s.store.OrganizationByID(ctx, sess.OrgID)
	if err != nil {
		return nil, err
	}
	return &principal{Org: org, Admin: admin, Session: sess}, nil
}

// apiAuth wraps an API endpoint: the Bearer token decides the organization.
func (s *Server) apiAuth(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.loadToken(r)
		if err != nil {
			s.renderJSONError(w, r, err)
			return
		}
		// Every answer holds the organization's data, the CSV downloads too.
		w.Header().Set("Cache-Control", "no-store")
		noteOrg(r.Context(), p.Org.ID)
		if err := h(w, r.WithContext(context.WithValue(r.Context(), principalKey, p))); err != nil {
			s.renderJSONError(w, r, err)
		}
	})
}

func (s *Server) apiPublic(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.renderJSONError(w, r, err)
		}
	})
}

var errNoToken = &httpError{Status: http.StatusUnauthorized, Code: codeUnauthorized,
	Message: "Send an API token as 'Authorization: Bearer TOKEN'. Admins create tokens in Settings."}

func (s *Server) loadToken(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 200 {
		return nil, errNoToken
	}
	ctx := r.Context()
	t, err := s.store.TokenByHash(ctx, auth.Digest(tok))
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, &httpError{Status: http.StatusUnauthorized, Code: codeUnauthorized,
			Message: "This API token is unknown or has been revoked."}
	} else if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, &httpError{Status: http.StatusUnauthorized, Code: codeUnauthorized,
			Message: "This API token is unknown or has been revoked."}
	}
	org, err := s.store.OrganizationByID(ctx, t.OrgID)
	if err != nil {
		return nil, err
	}
	return &principal{Org: org, Token: t}, nil
}

// rateLimiter counts failed sign-ins per key (an email, a client address) in a sliding
// window. The failures live in the store (roster.AdminStore.AddSignInFailure), so every
// instance behind a load balancer counts the same ones: an in-process count would give a
// guesser one budget per instance. Hand-written because the rule (failures only, reset on
// success, one window) is a few lines and x/time/rate's token bucket does not count
// failures.
type rateLimiter struct {
	store  roster.AdminStore
	max    int
	window time.Duration
	now    func() time.Time
}

func newRateLimiter(store roster.AdminStore, max int, window time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{store: store, max: max, window: window, now: now}
}

// blocked reports whether key has used up its attempts, and when it may try again.
func (l *rateLimiter) blocked(ctx context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	n, oldest, err := l.store.SignInFailures(ctx, key, now.Add(-l.window))
	if err != nil || n < l.max {
		return false, 0, err
	}
	return true, max(oldest.Add(l.window).Sub(now), time.Second), nil
}

// fail records a failure of key; failures older than the window are forgotten on the way.
func (l *rateLimiter) fail(ctx context.Context, key string) error {
	now := l.now()
	return l.store.AddSignInFailure(ctx, key, now, now.Add(-l.window))
}

func (l *rateLimiter) reset(ctx context.Context, key string) error {
	return l.store.ClearSignInFailures(ctx, key)
}

// clientIP is the address a request comes from, for the sign-in limiter and the request
// log: the TCP peer, unless the peer is one of Config.TrustedProxies; then the
// X-Forwarded-For header is read from its right end (the entry the nearest proxy added),
// skipping the trusted proxies, and the first other address is the client. Entries left of
// it were written by the client itself and prove nothing. A trusted peer that sent no
// usable header stays the client.
func (s *Server) clientIP(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		peer = host
	}
	if len(s.cfg.TrustedProxies) == 0 {
		return peer
	}
	trusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range s.cfg.TrustedProxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !trusted(addr) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop we cannot read: stop at what we know
		}
		if !trusted(a) {
			return a.Unmap().String()
		}
	}
	return peer
}
