package importer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"

	"github.com/roster-dev/roster/internal/idn"
)

// normalise trims a cell (Unicode white space, NBSP included) and puts it in NFC. Cells that
// are not valid UTF-8 are read as Windows-1252; guessed reports that.
func normalise(s string) (out string, guessed bool) {
	if isASCII(s) {
		// The common case: no decoding, no NFC; trim only when an edge is white space.
		if s != "" && (asciiSpace[s[0]] || asciiSpace[s[len(s)-1]]) {
			s = strings.TrimFunc(s, isTrimSpace)
		}
		return s, false
	}
	if !utf8.ValidString(s) {
		if d, err := charmap.Windows1252.NewDecoder().String(s); err == nil {
			s, guessed = d, true
		} else {
			s, guessed = strings.ToValidUTF8(s, "\uFFFD"), true
		}
	}
	s = strings.TrimFunc(s, isTrimSpace)
	return norm.NFC.String(s), guessed
}

// plainText takes the control characters out of a free-text cell (employee_id, job_title,
// department, location): a line break or TAB (a wrapped spreadsheet cell) becomes a space,
// any other (NUL, escape, the C1 controls, the bidi overrides...) is dropped, then the edges are trimmed
// again. No store keeps them usefully (PostgreSQL refuses NUL in text; SQLite keeps it but
// its string functions stop there), and no one types them on purpose. Names and emails
// keep theirs, so that their rules refuse them (the contract counts control characters
// as invalid in a name).
func plainText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || (c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xa0) ||
			(c == 0xe2 && i+1 < len(s) && (s[i+1] == 0x80 || s[i+1] == 0x81)) { // U+2000-207F, bidi controls among them
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
			b.WriteByte(' ')
		case unicode.IsControl(r), isBidiControl(r):
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimFunc(b.String(), isTrimSpace)
}

// isBidiControl: the invisible embedding, override and isolate characters (U+202A-202E,
// U+2066-2069). Nobody types them in a job title; an override makes "evil" display as
// "live" on every page and export that shows the value, so free text drops them like the
// other controls (names and emails refuse them).
func isBidiControl(r rune) bool {
	return ('\u202A' <= r && r <= '\u202E') || ('\u2066' <= r && r <= '\u2069')
}

var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

func isTrimSpace(r rune) bool {
	// unicode.IsSpace covers NBSP (U+00A0) and the other separators; U+FEFF is a stray BOM
	// or zero-width no-break space that spreadsheet exports leave at the edges of cells.
	return unicode.IsSpace(r) || r == '\uFEFF' || r == '\u200B'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerEmail lower-cases an email; ASCII is done without allocation when already lower.
// normEmail is an email as Roster stores and compares it: lower-cased, an
// internationalised domain in its ASCII form (idn.Email), so that one mailbox is one
// learner however the file spells its domain.
func normEmail(s string) string {
	s = lowerEmail(s)
	if isASCII(s) {
		return s
	}
	return idn.Email(s)
}

func lowerEmail(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}

// validEmail applies the contract's rule: exactly one "@"; a dot-atom local part (RFC 5322
// atext in runs separated by single dots; no quoted forms, no spaces); a domain of two or
// more labels of letters, digits and inner hyphens (IDN letters allowed) whose last label
// has two or more characters and is not all digits. net/mail accepts display names, quoted
// local parts and single-label domains, so it cannot be used as is.
func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at == len(s)-1 {
		return false
	}
	return validLocalPart(s[:at]) && validDomain(s[at+1:])
}

func validLocalPart(s string) bool {
	if len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r == '.' || isAtext(r) {
			continue
		}
		return false
	}
	return true
}

// isAtext is RFC 5322 atext, extended with non-ASCII letters and digits (RFC 6531).
func isAtext(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiAtext[r]
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)
}

// asciiAtext and asciiLabel are lookup tables: the validator runs twice per row, a million
// rows at a time.
var asciiAtext, asciiLabel [utf8.RuneSelf]bool

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		asciiAtext[c] = alnum || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", rune(c))
		asciiLabel[c] = alnum || c == '-'
	}
}

func validDomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	n, last := 0, ""
	for rest := s; ; n++ {
		l, after, more := strings.Cut(rest, ".")
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r < utf8.RuneSelf {
				if !asciiLabel[r] {
					return false
				}
			} else if !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)) {
				return false
			}
		}
		if !more {
			last = l
			break
		}
		rest = after
	}
	if n < 1 {
		return false
	}
	if utf8.RuneCountInString(last) < 2 {
		return false
	}
	return strings.TrimFunc(last, unicode.IsDigit) != ""
}

// validName: letters of any script, combining marks, space separators, apostrophes (' and
// U+2019), hyphens and periods, with at least one letter. Everything else (markup, control
// characters, emoji, "@", "=", parentheses) is refused, which also keeps formulas out.
func validName(s string) bool {
	letter := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.Is(unicode.M, r), unicode.Is(unicode.Zs, r):
		case r == '\'' || r == '\u2019' || r == '-' || r == '.' || r == '\u2010':
		default:
			return false
		}
	}
	return letter
}

// parseActive reads membership_active: true/false, yes/no, 1/0 in any case.
func parseActive(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "1":
		return true, true
	case "false", "no", "0":
		return false, true
	}
	return false, false
}

func domainOf(email string) string {
	return email[strings.LastIndexByte(email, '@')+1:]
}
