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
	if _, ok := ASCII("a\u00a0b.com"); ok {
		t.Error("ASCII accepted a no-break space")
	}
}
