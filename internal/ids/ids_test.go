package ids

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	a := New("lrn_", 1000)
	seen := map[string]bool{}
	for _, id := range a {
		if !strings.HasPrefix(id, "lrn_") || len(id) != 4+26 {
			t.Fatalf("malformed id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	// The random part differs even within one millisecond.
	if a[0][4+10:] == a[1][4+10:] {
		t.Fatalf("two ids share their random part: %s %s", a[0], a[1])
	}
}

func TestWithCounterIsOrdered(t *testing.T) {
	a := WithCounter("x_", 41, 1, 3)
	if !(a[0] < a[1] && a[1] < a[2]) {
		t.Fatalf("ids do not sort by counter: %v", a)
	}
	b, err := Encoding.DecodeString(a[2][2:])
	if err != nil {
		t.Fatal(err)
	}
	// The counter sits in the first 48 bits.
	if got := uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5]); got != 43 {
		t.Fatalf("counter = %d, want 43", got)
	}
}

func TestForCountersAndCounter(t *testing.T) {
	got := ForCounters("lrn_", []int64{7, 1 << 40, 12})
	for i, want := range []int64{7, 1 << 40, 12} {
		if c, ok := Counter("lrn_", got[i]); !ok || c != want {
			t.Fatalf("Counter(%q) = %d, %v; want %d", got[i], c, ok, want)
		}
	}
	for _, bad := range []string{"", "lrn_", "upl_" + got[0][4:], "lrn_!!!!!!!!!!!!!!!!!!!!!!!!!!", got[0] + "x"} {
		if _, ok := Counter("lrn_", bad); ok {
			t.Errorf("Counter accepted %q", bad)
		}
	}
}
