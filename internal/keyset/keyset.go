// Package keyset holds the opaque cursor of keyset pagination that both stores hand out:
// the position after the last row of a page, as its sort key and row number.
package keyset

import (
	"encoding/base64"
	"encoding/json"

	"github.com/roster-dev/roster"
)

// Cursor records the sort it belongs to, so that a cursor used with another sort is
// refused instead of skipping rows.
type Cursor struct {
	Sort string   `json:"s"`
	Desc bool     `json:"d,omitempty"`
	Keys []string `json:"k"`
	Seq  int64    `json:"q"`
}

// Encode returns the cursor as an opaque URL-safe string.
func Encode(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a cursor made for this sort and direction, with nkeys sort values; any
// other string is EINVALID.
func Decode(s, sort string, desc bool, nkeys int) (*Cursor, error) {
	bad := roster.Errorf(roster.EINVALID, "invalid cursor: start again from the first page")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Sort != sort || c.Desc != desc || len(c.Keys) != nkeys {
		return nil, bad
	}
	return &c, nil
}
