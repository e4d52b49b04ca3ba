package keyset

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/roster-dev/roster"
)

func TestRoundTrip(t *testing.T) {
	c := Cursor{Sort: "name", Desc: true, Keys: []string{"García", "José"}, Seq: 42}
	s := Encode(c)
	got, err := Decode(s, "name", true, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 42 || got.Keys[0] != "García" || got.Keys[1] != "José" {
		t.Fatalf("decoded %+v", got)
	}
}

func TestRefusesOtherCursors(t *testing.T) {
	s := Encode(Cursor{Sort: "name", Keys: []string{"a", "b"}, Seq: 1})
	for name, tc := range map[string]struct {
		s, sort string
		desc    bool
		n       int
	}{
		"other sort":      {s, "email", false, 2},
		"other direction": {s, "name", true, 2},
		"other key count": {s, "name", false, 1},
		"not base64":      {"%%%", "name", false, 2},
		"not json":        {"bm90IGpzb24", "name", false, 2},
	} {
		if _, err := Decode(tc.s, tc.sort, tc.desc, tc.n); roster.ErrorCode(err) != roster.EINVALID {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
}

func TestOpenDirection(t *testing.T) {
	for _, tc := range []struct {
		desc, back bool
		first      bool // no cursor
		want       bool
	}{
		{first: true, desc: false, want: false},
		{first: true, desc: true, want: true},
		{desc: false, back: false, want: false},
		{desc: false, back: true, want: true},
		{desc: true, back: false, want: true},
		{desc: true, back: true, want: false},
	} {
		s := ""
		if !tc.first {
			s = Encode(Cursor{Sort: "email", Desc: tc.desc, Keys: []string{"a@x.com"}, Seq: 3, Back: tc.back})
		}
		cur, readDesc, err := Open(s, "email", tc.desc, 1)
		if err != nil || readDesc != tc.want || (cur == nil) != tc.first {
			t.Errorf("%+v: cursor %v, readDesc %v, err %v; want readDesc %v", tc, cur, readDesc, err, tc.want)
		}
	}
	if _, _, err := Open("garbage", "email", false, 1); roster.ErrorCode(err) != roster.EINVALID {
		t.Fatalf("garbage cursor: %v", err)
	}
}

func TestFoldAndNameKey(t *testing.T) {
	for in, want := range map[string]string{
		"José": "jose", "ÁVILA": "avila", "Groß": "gross", "Zoë": "zoe", "de la Cruz": "de la cruz",
		"Nguyễn": "nguyen", "李": "李", "O'Brien": "o'brien", "": "",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
	names := [][2]string{{"Zoe", "Zimmer"}, {"Ana", "Ávila"}, {"Maria", "de la Cruz"}, {"Ben", "adams"}, {"Al", "Adamson"}, {"Bo", "Adams"}}
	slices.SortFunc(names, func(a, b [2]string) int { return strings.Compare(NameKey(a[0], a[1]), NameKey(b[0], b[1])) })
	var got []string
	for _, n := range names {
		got = append(got, n[0]+" "+n[1])
	}
	if want := "Ben adams|Bo Adams|Al Adamson|Ana Ávila|Maria de la Cruz|Zoe Zimmer"; strings.Join(got, "|") != want {
		t.Errorf("name order %v, want %s", got, want)
	}
}

// TestFoldASCII: the ASCII fast path folds exactly as the Unicode path does, for every
// ASCII character, alone and among others.
func TestFoldASCII(t *testing.T) {
	slow := func(s string) string { return norm.NFC.String(norm.NFD.String(cases.Fold().String(s))) }
	var all []byte
	for c := 0; c < 0x80; c++ {
		s := string(rune(c))
		if got, want := Fold(s), slow(s); got != want {
			t.Errorf("Fold(%q) = %q, want %q", s, got, want)
		}
		all = append(all, byte(c))
	}
	for _, s := range []string{string(all), "McDONALD", "o'Brien-Smith", "van der BERG", "already lower"} {
		if got, want := Fold(s), slow(s); got != want {
			t.Errorf("Fold(%q) = %q, want %q", s, got, want)
		}
	}
}

func BenchmarkNameKey(b *testing.B) {
	names := [][2]string{{"Ada", "Lovelace"}, {"José", "Ávila"}, {"Анна", "Иванова"}, {"Grace", "Hopper"}}
	for i := 0; b.Loop(); i++ {
		n := names[i%len(names)]
		NameKey(n[0], n[1])
	}
}
