package roster

import (
	"slices"
	"strings"
	"testing"
)

func TestCheckSlug(t *testing.T) {
	for _, s := range []string{"acme", "a", "acme-corp", "a1-b2", strings.Repeat("a", 40)} {
		if err := CheckSlug(s); err != nil {
			t.Errorf("CheckSlug(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "a b", "-x", "x-", "../x", "a/b", "a?b", "é", "ACME", "a--b", "a\nb", strings.Repeat("a", 41), strings.Repeat("a", 300)} {
		if err := CheckSlug(s); ErrorCode(err) != EINVALID {
			t.Errorf("CheckSlug(%q) = %v, want an invalid error", s, err)
		}
	}
	// The slug is quoted, so that a line break in it cannot split the message.
	if err := CheckSlug("a\nb"); strings.Contains(ErrorMessage(err), "\n") {
		t.Errorf("the message must stay on one line: %q", ErrorMessage(err))
	}
}

func TestSlugifyMakesValidSlugs(t *testing.T) {
	for _, name := range []string{"Acme Corp", "  --Ünïcode--  ", "", strings.Repeat("ab ", 50), "é"} {
		if s := Slugify(name); CheckSlug(s) != nil {
			t.Errorf("Slugify(%q) = %q, which CheckSlug refuses", name, s)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, n := range []string{"Acme Corp", "Bücher & Söhne", strings.Repeat("é", 200)} {
		if err := CheckName("name", n); err != nil {
			t.Errorf("CheckName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", "   ", "a\x1fb", "a\nb", "a\tb", "a\u0085b", "a\u2028b", "a\x7fb", "\xff", strings.Repeat("é", 201)} {
		if err := CheckName("name", n); ErrorCode(err) != EINVALID {
			t.Errorf("CheckName(%q) = %v, want an invalid error", n, err)
		}
	}
}

func TestParseDomains(t *testing.T) {
	got, bad := ParseDomains("X.COM., @acme.co.uk; acme.co.uk\nxn--bcher-kva.example", nil)
	if bad != "" || !slices.Equal(got, []string{"x.com", "acme.co.uk", "xn--bcher-kva.example"}) {
		t.Fatalf("ParseDomains: %q, bad %q", got, bad)
	}
	for _, d := range []string{"localhost", "bücher.example", "x.com..", "-a.com", "a.com-", "a..com", "a.123", "a_b.com", "a@b.com", strings.Repeat("a", 64) + ".com"} {
		if _, bad := ParseDomains(d, nil); bad == "" {
			t.Errorf("ParseDomains(%q) accepted it", d)
		}
	}
}

func TestValidAdminEmail(t *testing.T) {
	for _, e := range []string{"jane@acme.com", "jane.doe+x@mail.acme.co.uk"} {
		if !ValidAdminEmail(e) {
			t.Errorf("ValidAdminEmail(%q) = false", e)
		}
	}
	for _, e := range []string{"", "a@b@acme.com", "<script>@acme.com", "Jane <jane@acme.com>", "jane@acme", "jane", "@acme.com", "jane@", strings.Repeat("a", 250) + "@a.com"} {
		if ValidAdminEmail(e) {
			t.Errorf("ValidAdminEmail(%q) = true", e)
		}
	}
}

func TestCheckTokenName(t *testing.T) {
	if err := CheckTokenName("HR export script"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"", " ", "a\nb", "a\tb", strings.Repeat("x", MaxTokenNameLength+1)} {
		if ErrorCode(CheckTokenName(n)) != EINVALID {
			t.Errorf("CheckTokenName(%q) accepted it", n)
		}
	}
}
