package csvsafe

import "testing"

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"Jane":                     "Jane",
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")",
		"+1 555":                   "'+1 555",
		"-2+3":                     "'-2+3",
		"@SUM(A1)":                 "'@SUM(A1)",
		"\tcmd":                    "'\tcmd",
		"\rcmd":                    "'\rcmd",
		"Anne-Marie":               "Anne-Marie",
		"jane@acme.com":            "jane@acme.com",
		"O'Brien":                  "O'Brien",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every value Cell guards comes back from Unquote as it was; other values, apostrophes
// included, are left alone.
func TestUnquote(t *testing.T) {
	for _, v := range []string{"=HYPERLINK(1)", "+1 555", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "Jane", "O'Brien", "'Ohana", "'", "''=x", "'=x", "'''+1", ""} {
		if got := Unquote(Cell(v)); got != v {
			t.Errorf("Unquote(Cell(%q)) = %q", v, got)
		}
	}
	for in, want := range map[string]string{"'=1+1": "=1+1", "''=1": "'=1", "'Ohana": "'Ohana", "'": "'", "'x=": "'x=", "''": "''"} {
		if got := Unquote(in); got != want {
			t.Errorf("Unquote(%q) = %q, want %q", in, got, want)
		}
	}
}
