// Package keyset holds the opaque cursor of keyset pagination that both stores hand out:
// a position in the list (a row's sort key and row number) and which way to read from it:
// the page after the row (the next page, from a page's last row) or the page before it
// (the previous page, from a page's first row).
package keyset

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/roster-dev/roster"
)

// Cursor records the sort it belongs to, so that a cursor used with another sort is
// refused instead of skipping rows.
type Cursor struct {
	Sort string   `json:"s"`
	Desc bool     `json:"d,omitempty"`
	Keys []string `json:"k"`
	Seq  int64    `json:"q"`
	// Back reads the page that ends just before this position: a store reads the rows in
	// the opposite order from it, then Paginate puts them back in the list's order.
	Back bool `json:"b,omitempty"`
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

// Open reads a page's cursor (s may be "", the first page: cur is nil) and returns the
// direction to read the rows in: the list's (desc), or the opposite for a Back cursor, whose
// rows Paginate then turns. The store compares and orders with it: ">" and ASC when
// readDesc is false, "<" and DESC when it is true.
func Open(s, sort string, desc bool, nkeys int) (cur *Cursor, readDesc bool, err error) {
	if s == "" {
		return nil, desc, nil
	}
	if cur, err = Decode(s, sort, desc, nkeys); err != nil {
		return nil, false, err
	}
	return cur, desc != cur.Back, nil
}

// Paginate makes a page of the rows a store read for cur (nil for the first page): at most
// limit+1 rows with their seqs, in reading order (the list's order, or the opposite for a
// Back cursor). It returns the page in the list's order and the cursors of the next and
// previous pages ("" when there is none). keys gives a row's values of the sort's columns.
func Paginate[T any](rows []T, seqs []int64, cur *Cursor, sort string, desc bool, limit int, keys func(*T) []string) (page []T, next, prev string) {
	back := cur != nil && cur.Back
	more := len(rows) > limit // a row beyond the page, in reading order
	if more {
		rows, seqs = rows[:limit], seqs[:limit]
	}
	if back {
		slices.Reverse(rows)
		slices.Reverse(seqs)
	}
	if len(rows) == 0 {
		return rows, "", ""
	}
	at := func(i int, back bool) string {
		return Encode(Cursor{Sort: sort, Desc: desc, Keys: keys(&rows[i]), Seq: seqs[i], Back: back})
	}
	last := len(rows) - 1
	switch {
	case back:
		// Read backwards from a page that follows: there is always a next page.
		next = at(last, false)
		if more {
			prev = at(0, true)
		}
	default:
		if more {
			next = at(last, false)
		}
		if cur != nil { // a page after another
			prev = at(0, true)
		}
	}
	return rows, next, prev
}

// Compose puts a filter's text in the form learners are stored in, NFC (the importer
// normalises every cell so), so that "Zürich" typed with a combining diaeresis finds what
// was stored precomposed. Both stores call it with Normalize; it lives here, with the rest
// of what their listings share, because the domain package keeps to the standard library.
func Compose(f *roster.LearnerFilter) {
	f.Query = Fold(f.Query) // as the names are kept for searching (sort_name)
	f.Department = norm.NFC.String(f.Department)
	f.Location = norm.NFC.String(f.Location)
}

// OrderBy is the ORDER BY list of a sort: its columns, then seq, which breaks their ties,
// all one way.
func OrderBy(keys []string, desc bool) string {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + dir + ", ")
	}
	return b.String() + "seq" + dir
}
