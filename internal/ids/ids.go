// Package ids makes the identifiers Roster shows: a short prefix that says what the thing
// is ("lrn_", "upl_"...) and 26 characters of base32 that are sortable and unguessable.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// Encoding is Crockford's base32 alphabet in lower case: its order matches byte order.
var Encoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns n IDs like "lrn_01hx…" (prefix + 26 characters). The first 48 bits are the
// time in milliseconds, so rows inserted together land next to each other in an ID index
// (a million random keys would scatter writes over the whole B-tree); the other 80 bits
// come from crypto/rand, so an ID cannot be guessed from another.
func New(prefix string, n int) []string {
	return WithCounter(prefix, uint64(time.Now().UnixMilli()), 0, n)
}

// WithCounter returns n IDs whose first 48 bits are first, first+step, first+2*step...
// and whose other 80 bits are random: a store that embeds a row number in the ID (so that
// a lookup by ID can use the primary key) passes it here with step 1.
func WithCounter(prefix string, first, step uint64, n int) []string {
	rnd := make([]byte, 10*n)
	rand.Read(rnd)
	out := make([]string, n)
	var b [16]byte
	for i := range out {
		binary.BigEndian.PutUint64(b[:8], (first+uint64(i)*step)<<16)
		copy(b[6:], rnd[i*10:(i+1)*10])
		out[i] = prefix + Encoding.EncodeToString(b[:])
	}
	return out
}

// ForCounters returns one ID for each counter, as WithCounter makes them: for counters
// that a database hands out (a sequence) rather than a contiguous run.
func ForCounters(prefix string, counters []int64) []string {
	rnd := make([]byte, 10*len(counters))
	rand.Read(rnd)
	out := make([]string, len(counters))
	var b [16]byte
	for i, c := range counters {
		binary.BigEndian.PutUint64(b[:8], uint64(c)<<16)
		copy(b[6:], rnd[i*10:(i+1)*10])
		out[i] = prefix + Encoding.EncodeToString(b[:])
	}
	return out
}

// Counter returns the counter an ID made by WithCounter or ForCounters embeds, or false
// for a string that is not such an ID. It says nothing of whether the ID exists: a store
// looks the counter up and compares the whole ID.
func Counter(prefix, id string) (int64, bool) {
	s, ok := strings.CutPrefix(id, prefix)
	if !ok || len(s) != 26 {
		return 0, false
	}
	b, err := Encoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[:8]) >> 16), true
}
