package keyset

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Fold is s as the name sort and the search compare it: case-folded (ß is ss) and without
// accents (é is e), so that "Ávila" and "de la Cruz" sort among the a's and d's and
// "jose" finds José. Byte order of folded keys is close to what a reader expects of a
// directory, in both stores alike, where a collation would differ between them.
func Fold(s string) string {
	if isASCII(s) {
		// Folding ASCII is lower-casing it, and it has no accents to remove: most names
		// are ASCII, and the transformers below cost a million-row import over a second.
		return asciiLower(s)
	}
	s = cases.Fold().String(s)
	d := norm.NFD.String(s)
	if len(d) == len(s) && isASCII(d) {
		return d
	}
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

// NameKey is a learner's key in the name sort (the stores' sort_name column): the folded
// last name, then the folded first name. U+0001, which no name holds, sorts a last name
// before any longer one that starts with it.
func NameKey(first, last string) string { return Fold(last) + "\x01" + Fold(first) }

// asciiLower lower-cases an ASCII string, without a copy when it has no upper case.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
