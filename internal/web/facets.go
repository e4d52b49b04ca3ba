package web

import (
	"context"
	"sync"

	"github.com/roster-dev/roster"
)

// facetCache keeps each organization's LearnerFacets (the department and location
// suggestions of the Learners tab) for the LearnersVersion they were read at: reading them
// is a pass over the organization's learners on PostgreSQL (a few hundred milliseconds at
// a million), and they change only when the learners do, which moves the version. Per
// process; another instance reads its own copy once per version.
type facetCache struct {
	mu sync.Mutex
	m  map[string]facetEntry // by organization ID
}

type facetEntry struct {
	version int64
	facets  *roster.LearnerFacets
}

// maxFacetOrgs bounds the cache: past it, it starts again empty.
const maxFacetOrgs = 10000

func (c *facetCache) get(ctx context.Context, store roster.LearnerStore, org *roster.Organization) (*roster.LearnerFacets, error) {
	c.mu.Lock()
	e, ok := c.m[org.ID]
	c.mu.Unlock()
	if ok && e.version == org.LearnersVersion {
		return e.facets, nil
	}
	f, err := store.LearnerFacets(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxFacetOrgs {
		c.m = map[string]facetEntry{}
	}
	// Another request may have read a newer version meanwhile: keep the newer.
	if cur, ok := c.m[org.ID]; !ok || cur.version <= org.LearnersVersion {
		c.m[org.ID] = facetEntry{version: org.LearnersVersion, facets: f}
	}
	return f, nil
}
