package roster

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rules below are shared by the web app's forms and the command line, so that an
// organization or an admin made by one is one the other would have made too.

// MaxSlugLength is the longest organization slug.
const MaxSlugLength = 40

// MaxNameLength is the longest organization or admin name, in characters.
const MaxNameLength = 200

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// Slugify makes a slug of a name: lower-case ASCII letters and digits in runs joined by
// single hyphens, at most MaxSlugLength characters, "org" when nothing is left.
func Slugify(name string) string {
	s := strings.Trim(slugRE.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > MaxSlugLength {
		s = strings.Trim(s[:MaxSlugLength], "-")
	}
	if s == "" {
		s = "org"
	}
	return s
}

// CheckSlug refuses a slug that Slugify would change: one given on the command line is
// taken as written or not at all, never silently rewritten.
func CheckSlug(slug string) error {
	if slug != "" && Slugify(slug) == slug {
		return nil
	}
	hint := ""
	if s := Slugify(slug); s != "org" {
		hint = fmt.Sprintf(", such as %q", s)
	}
	return Errorf(EINVALID, "%q is not a valid slug: use lower-case letters a-z, digits and single hyphens between them, at most %d characters%s",
		slug, MaxSlugLength, hint)
}

// MaxTokenNameLength bounds an API token's name, in characters.
const MaxTokenNameLength = 100

// CheckName refuses a blank name, one longer than MaxNameLength characters, and one that
// is not UTF-8 or holds control characters, which would break every table it is shown in.
// what names the field in the message ("organization name").
func CheckName(what, name string) error { return checkLabel(what, name, MaxNameLength) }

// CheckTokenName is CheckName for an API token's name (at most MaxTokenNameLength).
func CheckTokenName(name string) error { return checkLabel("token name", name, MaxTokenNameLength) }

func checkLabel(what, name string, maxLen int) error {
	switch {
	case strings.TrimSpace(name) == "":
		return Errorf(EINVALID, "the %s is blank", what)
	case !utf8.ValidString(name):
		return Errorf(EINVALID, "the %s is not valid UTF-8", what)
	case strings.ContainsFunc(name, isControl):
		return Errorf(EINVALID, "the %s holds a control character (such as a line break or a tab)", what)
	case utf8.RuneCountInString(name) > maxLen:
		return Errorf(EINVALID, "the %s is longer than %d characters", what, maxLen)
	}
	return nil
}

// isControl: C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// domainRE: two or more labels of lower-case ASCII letters, digits and inner hyphens; the
// last one starts with a letter. Internationalised domains are written in their ASCII
// (xn--) form, so that one domain has one spelling.
var domainRE = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$`)

// ParseDomains reads a list of email domains separated by commas, semicolons, spaces or
// lines, lower-cased, without a leading "@" or one trailing "." (the root), de-duplicated
// in the order given. toASCII, when given, writes an internationalised domain in its
// ASCII (xn--) form first (internal/idn.ASCII: this package keeps to the standard
// library), so that "bücher.example" is stored as the one spelling the importer compares.
// It returns the first entry that is not a domain, if any.
func ParseDomains(s string, toASCII func(string) (string, bool)) (domains []string, bad string) {
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		d := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(f)), "@")
		d = strings.TrimSuffix(d, ".")
		if d == "" {
			continue
		}
		if toASCII != nil {
			a, ok := toASCII(d)
			if !ok {
				return nil, f
			}
			d = a
		}
		if len(d) > 253 || !domainRE.MatchString(d) {
			return nil, f
		}
		if !seen[d] {
			seen[d] = true
			domains = append(domains, d)
		}
	}
	return domains, ""
}

// ValidAdminEmail says whether email, already trimmed and lower-cased, is a plain address
// an admin can sign in with: what net/mail parses as exactly itself, with no display name,
// at most 254 bytes, and a dot in its domain.
func ValidAdminEmail(email string) bool {
	if email == "" || len(email) > 254 {
		return false
	}
	a, err := mail.ParseAddress(email)
	return err == nil && a.Address == email && a.Name == "" && strings.Contains(email[strings.LastIndexByte(email, '@'):], ".")
}
