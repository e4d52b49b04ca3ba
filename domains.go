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
