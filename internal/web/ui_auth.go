package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
	"github.com/roster-dev/roster/internal/idn"
)

// setupPage is the first start: on a store without admins it creates the organization
// and its first admin. Once an admin exists it only sends people to sign in.
func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) error {
	n, err := s.store.CountAdmins(r.Context())
	if err != nil {
		return err
	}
	if n > 0 {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, "setup", map[string]any{"Title": "Set up Roster", "Form": map[string]string{}})
}

type formErrors map[string]string

func (s *Server) setupSubmit(w http.ResponseWriter, r *http.Request) error {
	// One setup at a time, so two people racing on a fresh server make one organization:
	// in this process, and across instances sharing the store.
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	ctx := r.Context()
	if l, ok := s.store.(roster.Locker); ok {
		unlock, err := waitLock(ctx, l, "setup", 10*time.Second)
		if err != nil {
			return err
		}
		defer unlock()
	}
	n, err := s.store.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return nil
	}
	form := map[string]string{
		"org_name": strings.TrimSpace(r.PostFormValue("org_name")),
		"domains":  r.PostFormValue("domains"),
		"name":     strings.TrimSpace(r.PostFormValue("name")),
		"email":    idn.Email(strings.TrimSpace(r.PostFormValue("email"))),
	}
	password := r.PostFormValue("password")
	errs := formErrors{}
	if roster.CheckName("organization name", form["org_name"]) != nil {
		errs["org_name"] = "Enter your organization's name (up to 200 characters)."
	}
	domains, bad := parseDomains(form["domains"])
	if bad != "" {
		errs["domains"] = fmt.Sprintf("%q is not an email domain. Write domains like acme.com, separated by commas.", bad)
	} else if len(domains) == 0 {
		errs["domains"] = "Enter at least one email domain, such as acme.com."
	}
	if e := checkAdminName(form["name"]); e != "" {
		errs["name"] = e
	}
	if e := checkEmail(form["email"]); e != "" {
		errs["email"] = e
	}
	if e := checkPassword(password); e != "" {
		errs["password"] = e
	}
	if len(errs) > 0 {
		return s.renderStatus(w, r, http.StatusBadRequest, "setup", map[string]any{"Title": "Set up Roster", "Form": form, "Errors": errs})
	}
	org := &roster.Organization{Name: form["org_name"], Slug: slugify(form["org_name"]), Domains: domains}
	if err := s.store.CreateOrganization(ctx, org); err != nil {
		if roster.ErrorCode(err) == roster.ECONFLICT {
			errs["org_name"] = roster.ErrorMessage(err)
			return s.renderStatus(w, r, http.StatusConflict, "setup", map[string]any{"Title": "Set up Roster", "Form": form, "Errors": errs})
		}
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	admin := &roster.Admin{OrgID: org.ID, Email: form["email"], Name: form["name"], PasswordHash: hash}
	if err := s.store.CreateAdmin(ctx, admin); err != nil {
		return err
	}
	if err := s.startSession(w, r, admin); err != nil {
		return err
	}
	http.Redirect(w, r, "/uploads/new?flash=setup-done", http.StatusSeeOther)
	return nil
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) error {
	if p, err := s.loadSession(r); err == nil && p != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	n, err := s.store.CountAdmins(r.Context())
	if err != nil {
		return err
	}
	if n == 0 {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, "signin", map[string]any{"Title": "Sign in", "Next": r.URL.Query().Get("next")})
}

func (s *Server) signInSubmit(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	email := idn.Email(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	next := r.PostFormValue("next")
	data := map[string]any{"Title": "Sign in", "Email": email, "Next": next}
	ipKey, emailKey := "ip:"+s.clientIP(r), "email:"+email
	for _, k := range []string{emailKey, ipKey} {
		blocked, wait, err := s.limiter.blocked(ctx, k)
		if err != nil {
			return err
		}
		if blocked {
			mins := int(wait.Minutes()) + 1
			data["Error"] = fmt.Sprintf("Too many failed sign-ins. Try again in %d %s.", mins, map[bool]string{true: "minute", false: "minutes"}[mins == 1])
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			return s.renderStatus(w, r, http.StatusTooManyRequests, "signin", data)
		}
	}
	fail := func() error {
		for _, k := range []string{emailKey, ipKey} {
			if err := s.limiter.fail(ctx, k); err != nil {
				return err
			}
		}
		data["Error"] = "The email or the password is not right."
		return s.renderStatus(w, r, http.StatusUnauthorized, "signin", data)
	}
	if email == "" || password == "" || len(password) > auth.MaxPasswordLength {
		return fail()
	}
	admin, err := s.store.AdminByEmail(ctx, email)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		auth.CheckDummy(password)
		return fail()
	} else if err != nil {
		return err
	}
	ok, err := auth.CheckPassword(admin.PasswordHash, password)
	if err != nil {
		s.log.Error("stored password hash unreadable", "admin", admin.ID, "err", err)
		return fail()
	}
	if !ok {
		return fail()
	}
	if err := s.limiter.reset(ctx, emailKey); err != nil {
		return err
	}
	if err := s.startSession(w, r, admin); err != nil {
		return err
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
	return nil
}

// startSession stores a new session (its cookie value only as a digest) and sets the
// cookie. A new session on each sign-in also defeats session fixation.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, admin *roster.Admin) error {
	secret := auth.NewSecret()
	now := s.now()
	sess := &roster.Session{
		TokenHash: auth.Digest(secret), AdminID: admin.ID, OrgID: admin.OrgID,
		CSRFToken: auth.NewSecret(), CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL),
	}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	s.setCookie(w, s.sessionCookieName(), secret, s.cfg.SessionTTL)
	return nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	if err := s.store.DeleteSession(r.Context(), p.Session.TokenHash); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
		return err
	}
	s.setCookie(w, s.sessionCookieName(), "", -1)
	http.Redirect(w, r, "/signin?flash=signed-out", http.StatusSeeOther)
	return nil
}

// safeNext keeps a post-sign-in redirect on this site: a path, never another host.
func safeNext(next string) string {
	// Browsers drop tabs and line breaks from a URL, so "/\t/evil.com" is "//evil.com" to
	// them: no control character at all, and no "//" or "/\" at the start.
	// http.Redirect then cleans the path, so "/a/../\\evil.com" would leave as "/\\evil.com":
	// no backslash anywhere, and no "." or ".." segment (none of our links has one).
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "/learners"
	}
	p, _, _ := strings.Cut(next, "?")
	p, _, _ = strings.Cut(p, "#")
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return "/learners"
		}
	}
	return next
}

// parseDomains reads a list of email domains separated by commas, spaces or lines. It
// returns the first entry that is not a domain, if any. The rule is the command line's too.
func parseDomains(s string) (domains []string, bad string) { return roster.ParseDomains(s, idn.ASCII) }

func checkEmail(email string) string {
	if email == "" {
		return "Enter an email address."
	}
	if !roster.ValidAdminEmail(email) {
		return "Enter an email address like jane@acme.com."
	}
	return ""
}

// waitLock takes the lock called name, trying again until it is free or wait has passed
// (EUNAVAILABLE: try again in a moment).
func waitLock(ctx context.Context, l roster.Locker, name string, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	for {
		unlock, ok, err := l.TryLock(ctx, name)
		if err != nil || ok {
			return unlock, err
		}
		if time.Now().After(deadline) {
			return nil, roster.Errorf(roster.EUNAVAILABLE, "someone else is doing the same thing right now; try again in a moment")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkAdminName checks an admin's name, which may be blank, by the command line's rule.
func checkAdminName(name string) string {
	if name != "" && roster.CheckName("admin's name", name) != nil {
		return "Use up to 200 characters, without line breaks, tabs or other control characters."
	}
	return ""
}

func checkPassword(p string) string { return auth.NewPasswordProblem(p) }

func slugify(name string) string { return roster.Slugify(name) }
