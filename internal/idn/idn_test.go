package idn

import "testing"

func TestASCII(t *testing.T) {
	for in, want := range map[string]string{
		"acme.com":              "acme.com",
		"ACME.com":              "acme.com",
		"bücher.example":        "xn--bcher-kva.example",
		"Bücher.Example":        "xn--bcher-kva.example",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"例え.jp":                 "xn--r8jz45g.jp",
	} {
		if got, ok := ASCII(in); !ok || got != want {
			t.Errorf("ASCII(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"a\u00a0b.com", "xn--zz.example", "xn--.com"} {
		if _, ok := ASCII(bad); ok {
			t.Errorf("ASCII accepted %q", bad)
		}
	}
}

func TestEmail(t *testing.T) {
	for in, want := range map[string]string{
		"Jane@Acme.com":            "jane@acme.com",
		"ju@bücher.example":        "ju@xn--bcher-kva.example",
		"JU@BÜCHER.EXAMPLE":        "ju@xn--bcher-kva.example",
		"ju@ｂücher.example":        "ju@xn--bcher-kva.example", // full-width b
		"ju@bu\u0308cher.example":  "ju@xn--bcher-kva.example", // decomposed ü
		"ju@xn--bcher-kva.example": "ju@xn--bcher-kva.example",
		"jürgen@acme.com":          "jürgen@acme.com", // only the domain has an ASCII form
		"not an email":             "not an email",
	} {
		if got := Email(in); got != want {
			t.Errorf("Email(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnicode(t *testing.T) {
	for in, want := range map[string]string{"xn--bcher-kva.example": "bücher.example", "acme.com": "acme.com", "xn--zz.example": "xn--zz.example"} {
		if got := Unicode(in); got != want {
			t.Errorf("Unicode(%q) = %q, want %q", in, got, want)
		}
		if a, ok := ASCII(Unicode(in)); in != "xn--zz.example" && (!ok || a != in) {
			t.Errorf("ASCII(Unicode(%q)) = %q, %v", in, a, ok)
		}
	}
}

func TestUnicodeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"ana@xn--bcher-kva.de": "ana@bücher.de",
		"ana@acme.com":         "ana@acme.com",
		"no-at-sign":           "no-at-sign",
		"a@xn--zz.invalid":     "a@xn--zz.invalid", // not valid punycode: as it is
		"":                     "",
	} {
		if got := UnicodeEmail(in); got != want {
			t.Errorf("UnicodeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
