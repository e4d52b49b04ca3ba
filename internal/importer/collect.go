package importer

import (
	"slices"

	"github.com/roster-dev/roster"
)

// collector keeps the first roster.MaxReportedErrors messages in report order and counts
// them all, so that a file with a million errors does not hold a million messages. Errors
// arrive mostly in row order, but duplicate groups are only known at the end: the slice is
// sorted and cut whenever it grows past twice the limit.
type collector struct {
	list   []roster.RowError
	count  int
	byCode map[string]int
	sink   func(roster.RowError)
}

func newCollector(sink func(roster.RowError)) *collector {
	return &collector{byCode: map[string]int{}, sink: sink}
}

func (c *collector) add(e roster.RowError) {
	c.count++
	c.byCode[e.Code]++
	if c.sink != nil {
		c.sink(e)
	}
	c.list = append(c.list, e)
	if len(c.list) >= 2*roster.MaxReportedErrors {
		c.trim()
	}
}

func (c *collector) merge(o *collector) {
	for _, e := range o.list {
		c.list = append(c.list, e)
	}
	c.count += o.count
	for k, v := range o.byCode {
		c.byCode[k] += v
	}
	c.trim()
}

func (c *collector) trim() {
	slices.SortStableFunc(c.list, func(a, b roster.RowError) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	if len(c.list) > roster.MaxReportedErrors {
		c.list = c.list[:roster.MaxReportedErrors:roster.MaxReportedErrors]
	}
}

// result returns the kept messages, sorted, never nil.
func (c *collector) result() []roster.RowError {
	c.trim()
	if c.list == nil {
		return []roster.RowError{}
	}
	return c.list
}

// bitset marks rows (by spreadsheet row number) compactly: a million rows take 125 KB.
type bitset []uint64

func (b *bitset) set(i int) {
	w := i / 64
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w-len(*b)+1+len(*b)/2)...)
	}
	(*b)[w] |= 1 << (uint(i) % 64)
}

func (b bitset) has(i int) bool {
	w := i / 64
	return w < len(b) && b[w]&(1<<(uint(i)%64)) != 0
}
