package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/assets"
	"github.com/roster-dev/roster/internal/idn"
)

// view is what every page template receives.
type view struct {
	Title   string
	Nav     string // the tab to highlight
	Org     *roster.Organization
	Admin   *roster.Admin
	CSRF    string
	Flash   string
	Data    map[string]any
	Now     time.Time
	Request *http.Request
}

var funcs = template.FuncMap{
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006, 15:04 UTC")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"num": formatInt,
	// email shows an address with an internationalised domain as people write it.
	"email": idn.UnicodeEmail,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	"codeLabel": codeLabel,
	// headerCode says whether an error or warning is about the header row, wherever it is.
	"headerCode": func(code string) bool {
		return code == roster.CodeMissingColumn || code == roster.CodeDuplicateColumn || code == roster.WarnUnknownColumn
	},
	"colLabel": colLabel,
	"query": func(base url.Values, kv ...string) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		if len(v) == 0 {
			return ""
		}
		return "?" + v.Encode()
	},
	"add":  func(a, b int) int { return a + b },
	"sub":  func(a, b int) int { return a - b },
	"join": strings.Join,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

// formatInt writes 1234567 as 1,234,567.
func formatInt(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// parseTemplates parses the layout with each page once, at start.
func parseTemplates() (map[string]*template.Template, error) { return parseTemplatesFS(assets.FS) }

func parseTemplatesFS(fsys fs.FS) (map[string]*template.Template, error) {
	pages, err := fs.Glob(fsys, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("web: no page templates embedded")
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := strings.TrimSuffix(path.Base(p), ".html")
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "templates/layout.html", "templates/partials/*.html", p)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data map[string]any) error {
	return s.renderStatus(w, r, http.StatusOK, name, data)
}

// renderStatus executes a page into a buffer first, so that a template error becomes a
// clean error page and never half a page.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) error {
	t := s.pages[name]
	if t == nil {
		return fmt.Errorf("web: no template %q", name)
	}
	v := view{Data: data, Now: s.now(), Request: r}
	if p := principalFrom(r.Context()); p != nil {
		v.Org, v.Admin = p.Org, p.Admin
		if p.Session != nil {
			v.CSRF = p.Session.CSRFToken
		}
	}
	if data != nil {
		if t, ok := data["Title"].(string); ok {
			v.Title = t
		}
		if n, ok := data["Nav"].(string); ok {
			v.Nav = n
		}
		if f, ok := data["Flash"].(string); ok {
			v.Flash = f
		}
	}
	if f := r.URL.Query().Get("flash"); f != "" && v.Flash == "" {
		v.Flash = flashes[f]
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		if name == "error" {
			http.Error(w, "Something went wrong.", http.StatusInternalServerError)
			return nil
		}
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

// flashes are the notices a redirect may ask for (?flash=key): fixed texts, so a crafted
// link cannot put words in Roster's mouth.
var flashes = map[string]string{
	"admin-added":   "The admin was added. They can sign in with the password you set.",
	"domains-saved": "The email domains were saved.",
	"token-revoked": "The token was revoked. Scripts using it are refused from now on.",
	"signed-out":    "You are signed out.",
	"setup-done":    "Your organization is ready. Start by uploading your learners.",
	"stale":         "Another import changed your learners since this file was checked, so it was checked again. Review the new preview before you upload.",
}

var codeLabels = map[string]string{
	roster.CodeMissingRequired:     "Missing required value",
	roster.CodeInvalidEmail:        "Invalid email",
	roster.CodeUnrecognizedDomain:  "Email domain not in your organization",
	roster.CodeDuplicateEmail:      "Duplicate email",
	roster.CodeDuplicateEmployeeID: "Duplicate employee ID",
	roster.CodeEmployeeIDConflict:  "Employee ID belongs to another learner",
	roster.CodeInvalidName:         "Invalid name",
	roster.CodeTooLong:             "Value too long",
	roster.CodeInvalidValue:        "Invalid value",
	roster.CodeMalformedRow:        "Unreadable row",
	roster.CodeUnsupportedFormat:   "Unsupported file format",
	roster.CodeEmptyFile:           "Empty file",
	roster.CodeFileTooLarge:        "File too large",
	roster.CodeTooManyRows:         "Too many rows",
	roster.CodeMissingColumn:       "Missing column",
	roster.CodeDuplicateColumn:     "Duplicate column",
	roster.WarnUnknownColumn:       "Unknown column (ignored)",
	roster.WarnExtraCells:          "Extra cells (ignored)",
	roster.WarnEncodingGuessed:     "Encoding guessed",
	roster.WarnManagerNotFound:     "Manager not found",
	roster.WarnSelfManager:         "Learner is their own manager",
	roster.WarnHRISManaged:         "Managed by your HRIS",
}

func codeLabel(code string) string {
	if l, ok := codeLabels[code]; ok {
		return l
	}
	return code
}

var colLabels = map[string]string{
	roster.ColFirstName: "First name", roster.ColLastName: "Last name",
	roster.ColEmployeeEmail: "Email", roster.ColEmployeeID: "Employee ID",
	roster.ColJobTitle: "Job title", roster.ColDepartment: "Department",
	roster.ColLocation: "Location", roster.ColManagerEmail: "Manager",
	roster.ColMembershipActive: "Active",
}

func colLabel(col string) string {
	if l, ok := colLabels[col]; ok {
		return l
	}
	return col
}
