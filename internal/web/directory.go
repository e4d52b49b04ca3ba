package web

import (
	"context"
	"sync"

	"github.com/roster-dev/roster"
)

// directory is what the Learners tab shows of the whole directory: how many learners
// there are, and the department and location suggestions of its filters.
type directory struct {
	Total  int
	Facets *roster.LearnerFacets
}

// directoryCache keeps each organization's directory summary for the LearnersVersion it was
// read at: reading it is a pass over the organization's learners on PostgreSQL (a few
// hundred milliseconds at a million), and it changes only when the learners do, which
// moves the version. Per process; another instance reads its own copy once per version.
type directoryCache struct {
	mu sync.Mutex
	m  map[string]directoryEntry // by organization ID
}

type directoryEntry struct {
	version int64
	dir     *directory
}

// maxDirectoryOrgs bounds the cache: past it, it starts again empty.
const maxDirectoryOrgs = 10000

func (c *directoryCache) get(ctx context.Context, store roster.LearnerStore, org *roster.Organization) (*directory, error) {
	c.mu.Lock()
	e, ok := c.m[org.ID]
	c.mu.Unlock()
	if ok && e.version == org.LearnersVersion {
		return e.dir, nil
	}
	facets, err := store.LearnerFacets(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	total, err := store.Lookup(org.ID).CountLearners(ctx)
	if err != nil {
		return nil, err
	}
	d := &directory{Total: total, Facets: facets}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxDirectoryOrgs {
		c.m = map[string]directoryEntry{}
	}
	// Another request may have read a newer version meanwhile: keep the newer.
	if cur, ok := c.m[org.ID]; !ok || cur.version <= org.LearnersVersion {
		c.m[org.ID] = directoryEntry{version: org.LearnersVersion, dir: d}
	}
	return d, nil
}
