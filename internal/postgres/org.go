package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
)

// CreateOrganization stores org with its domains in one transaction.
func (db *DB) CreateOrganization(ctx context.Context, org *roster.Organization) error {
	if org == nil || strings.TrimSpace(org.Slug) == "" || strings.TrimSpace(org.Name) == "" {
		return roster.Errorf(roster.EINVALID, "an organization needs a slug and a name")
	}
	domains, err := roster.CleanDomains(org.Domains)
	if err != nil {
		return err
	}
	id, now := newID("org_"), db.clock()
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO organizations (id, slug, name, hris_provider, learners_version, created_at)
			VALUES ($1, $2, $3, $4, 0, $5)`, id, org.Slug, org.Name, org.HRISProvider, now)
		if err != nil {
			return dbErr(err, "organization")
		}
		return insertDomains(ctx, tx, id, domains)
	})
	if err != nil {
		return err
	}
	org.ID, org.CreatedAt, org.Domains, org.LearnersVersion = id, now, domains, 0
	return nil
}

// insertDomains adds the domains in one statement.
func insertDomains(ctx context.Context, tx pgx.Tx, orgID string, domains []string) error {
	if len(domains) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO org_domains (domain, org_id) SELECT unnest($1::text[]), $2`, domains, orgID)
	return dbErr(err, "organization domain")
}

const orgColumns = `o.id, o.slug, o.name, o.hris_provider, o.learners_version, o.created_at,
	COALESCE((SELECT array_agg(d.domain ORDER BY d.domain) FROM org_domains d WHERE d.org_id = o.id), '{}')`

func scanOrg(row pgx.Row) (*roster.Organization, error) {
	var o roster.Organization
	if err := row.Scan(&o.ID, &o.Slug, &o.Name, &o.HRISProvider, &o.LearnersVersion, &o.CreatedAt, &o.Domains); err != nil {
		return nil, err
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return &o, nil
}

// OrganizationBySlug returns the organization with that slug, ENOTFOUND when none.
func (db *DB) OrganizationBySlug(ctx context.Context, slug string) (*roster.Organization, error) {
	o, err := scanOrg(db.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE o.slug = $1`, slug))
	return o, dbErr(err, "organization")
}

// OrganizationByID returns the organization, ENOTFOUND when none.
func (db *DB) OrganizationByID(ctx context.Context, id string) (*roster.Organization, error) {
	if err := needOrg(id); err != nil {
		return nil, err
	}
	o, err := scanOrg(db.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations o WHERE o.id = $1`, id))
	return o, dbErr(err, "organization")
}

// Organizations returns every organization, ordered by slug.
func (db *DB) Organizations(ctx context.Context) ([]roster.Organization, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+orgColumns+` FROM organizations o ORDER BY o.slug`)
	if err != nil {
		return nil, dbErr(err, "organizations")
	}
	defer rows.Close()
	out := []roster.Organization{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, dbErr(err, "organizations")
		}
		out = append(out, *o)
	}
	return out, dbErr(rows.Err(), "organizations")
}

// SetDomains replaces the organization's domains in one transaction.
func (db *DB) SetDomains(ctx context.Context, orgID string, domains []string) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	domains, err := roster.CleanDomains(domains)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var id string
		// Locks the organization so that two replacements do not interleave (NO KEY: see
		// Import).
		if err := tx.QueryRow(ctx, `SELECT id FROM organizations WHERE id = $1 FOR NO KEY UPDATE`, orgID).Scan(&id); err != nil {
			return dbErr(err, "organization")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM org_domains WHERE org_id = $1`, orgID); err != nil {
			return dbErr(err, "organization domains")
		}
		return insertDomains(ctx, tx, orgID, domains)
	})
}
