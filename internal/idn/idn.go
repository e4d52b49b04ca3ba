// Package idn writes an email domain in the one form Roster stores and compares: ASCII
// (an internationalised label as its xn-- punycode), lower-case. golang.org/x/net/idna
// does the conversion (UTS #46, the lookup profile browsers and mail systems use).
package idn

import (
	"strings"

	"golang.org/x/net/idna"
)

// ASCII returns d in ASCII form, lower-cased: "Bücher.Example" and "xn--bcher-kva.example"
// both give "xn--bcher-kva.example". ok is false for a name idna refuses; d is then
// returned lower-cased, for the caller's own rules to judge.
func ASCII(d string) (string, bool) {
	if isASCII(d) && !strings.Contains(d, "xn--") && !strings.Contains(d, "XN--") {
		return strings.ToLower(d), true // the common case, without idna's work
	}
	// An xn-- label must be real punycode ("xn--zz" is not); idna checks it on the way.
	a, err := idna.Lookup.ToASCII(d)
	if err != nil || strings.HasPrefix(a, ".") || strings.Contains(a, "..") {
		return strings.ToLower(d), false
	}
	return strings.ToLower(a), true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Email lower-cases an email address and writes its domain in ASCII form, so that one
// mailbox has one spelling ("Jane@Bücher.example" and "jane@xn--bcher-kva.example" are
// the same learner, the same admin). A domain idna refuses is left lower-cased, for the
// caller's rules to judge.
func Email(e string) string {
	e = strings.ToLower(e)
	at := strings.LastIndexByte(e, '@')
	if at < 0 || isASCII(e[at+1:]) {
		return e
	}
	d, _ := ASCII(e[at+1:])
	return e[:at+1] + d
}

// Unicode is d as people read it: "xn--bcher-kva.example" is "bücher.example". A name
// that is not valid punycode is returned as it is.
func Unicode(d string) string {
	if !strings.Contains(d, "xn--") {
		return d
	}
	u, err := idna.Lookup.ToUnicode(d)
	if err != nil {
		return d
	}
	return u
}

// UnicodeEmail is e with its domain as people read it ("ana@xn--bcher-kva.de" is
// "ana@bücher.de"), for display; e is stored and compared in ASCII form (Email).
func UnicodeEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	return e[:at+1] + Unicode(e[at+1:])
}
