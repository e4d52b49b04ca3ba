package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
	"github.com/roster-dev/roster/internal/idn"
)

func (s *Server) settingsData(r *http.Request, extra map[string]any) (map[string]any, error) {
	org := orgOf(r)
	admins, err := s.store.Admins(r.Context(), org.ID)
	if err != nil {
		return nil, err
	}
	tokens, err := s.store.Tokens(r.Context(), org.ID)
	if err != nil {
		return nil, err
	}
	data := map[string]any{
		"Title": "Settings", "Nav": "settings", "Admins": admins, "Tokens": tokens,
		"Domains": readableDomains(org.Domains), "AdminForm": map[string]string{},
		"Errors": formErrors{},
	}
	for k, v := range extra {
		data[k] = v
	}
	return data, nil
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request) error {
	data, err := s.settingsData(r, nil)
	if err != nil {
		return err
	}
	return s.render(w, r, "settings", data)
}

func (s *Server) settingsAddAdmin(w http.ResponseWriter, r *http.Request) error {
	org := orgOf(r)
	form := map[string]string{
		"name":  strings.TrimSpace(r.PostFormValue("name")),
		"email": idn.Email(strings.TrimSpace(r.PostFormValue("email"))),
	}
	password := r.PostFormValue("password")
	errs := formErrors{}
	if e := checkEmail(form["email"]); e != "" {
		errs["admin_email"] = e
	}
	if e := checkPassword(password); e != "" {
		errs["admin_password"] = e
	}
	if e := checkAdminName(form["name"]); e != "" {
		errs["admin_name"] = e
	}
	if len(errs) == 0 {
		hash, err := auth.HashPassword(password)
		if err != nil {
			return err
		}
		a := &roster.Admin{OrgID: org.ID, Email: form["email"], Name: form["name"], PasswordHash: hash}
		err = s.store.CreateAdmin(r.Context(), a)
		if err == nil {
			http.Redirect(w, r, "/settings?flash=admin-added#admins", http.StatusSeeOther)
			return nil
		}
		if roster.ErrorCode(err) != roster.ECONFLICT {
			return err
		}
		errs["admin_email"] = "An admin with this email already exists."
	}
	data, err := s.settingsData(r, map[string]any{"AdminForm": form, "Errors": errs})
	if err != nil {
		return err
	}
	return s.renderStatus(w, r, http.StatusBadRequest, "settings", data)
}

func (s *Server) settingsDomains(w http.ResponseWriter, r *http.Request) error {
	org := orgOf(r)
	raw := r.PostFormValue("domains")
	domains, bad := parseDomains(raw)
	errs := formErrors{}
	switch {
	case bad != "":
		errs["domains"] = fmt.Sprintf("%q is not an email domain. Write domains like acme.com, separated by commas.", bad)
	case len(domains) == 0:
		errs["domains"] = "Keep at least one email domain: learners' emails must be in one of them."
	case len(domains) > 100:
		errs["domains"] = "Use at most 100 domains."
	}
	if len(errs) == 0 {
		err := s.store.SetDomains(r.Context(), org.ID, domains)
		if err == nil {
			http.Redirect(w, r, "/settings?flash=domains-saved#domains", http.StatusSeeOther)
			return nil
		}
		if c := roster.ErrorCode(err); c != roster.ECONFLICT && c != roster.EINVALID {
			return err
		}
		errs["domains"] = roster.ErrorMessage(err)
	}
	data, err := s.settingsData(r, map[string]any{"Errors": errs, "Domains": raw})
	if err != nil {
		return err
	}
	return s.renderStatus(w, r, http.StatusBadRequest, "settings", data)
}

func (s *Server) settingsCreateToken(w http.ResponseWriter, r *http.Request) error {
	org := orgOf(r)
	name := strings.TrimSpace(r.PostFormValue("name"))
	if roster.CheckTokenName(name) != nil {
		data, err := s.settingsData(r, map[string]any{"Errors": formErrors{"token_name": "Name the token (up to 100 characters, on one line), for example \"HR export script\"."}})
		if err != nil {
			return err
		}
		return s.renderStatus(w, r, http.StatusBadRequest, "settings", data)
	}
	secret := auth.NewAPIToken()
	t := &roster.APIToken{OrgID: org.ID, Name: name, Hash: auth.Digest(secret)}
	if err := s.store.CreateToken(r.Context(), t); err != nil {
		return err
	}
	// The secret is shown on this response only; the store keeps its digest.
	data, err := s.settingsData(r, map[string]any{"NewToken": secret, "NewTokenName": name})
	if err != nil {
		return err
	}
	return s.render(w, r, "settings", data)
}

func (s *Server) settingsRevokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.RevokeToken(r.Context(), orgOf(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/settings?flash=token-revoked#tokens", http.StatusSeeOther)
	return nil
}

// readableDomains is the settings form's value: internationalised domains as people
// write them ("bücher.example"), which the form reads back into the stored xn-- form.
func readableDomains(domains []string) string {
	out := make([]string, len(domains))
	for i, d := range domains {
		out[i] = idn.Unicode(d)
	}
	return strings.Join(out, ", ")
}
