package roster

import (
	"slices"
	"strings"
)

// CleanDomains lower-cases, trims and de-duplicates email domains (sorted), refusing blank
// ones and ones written as an address.
func CleanDomains(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, d := range in {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "@ \t") {
			return nil, Errorf(EINVALID, "%q is not an email domain", d)
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// SearchKey is the text a learner search matches: the names and the email, lower-cased.
// The stores keep it in a column so that a search reads one value per learner.
func SearchKey(l *Learner) string {
	return strings.ToLower(l.FirstName + "\x1f" + l.LastName + "\x1f" + l.Email)
}
