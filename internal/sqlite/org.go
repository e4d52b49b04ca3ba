package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/roster-dev/roster"
)

// CreateOrganization stores org and fills in its ID and CreatedAt.
func (db *DB) CreateOrganization(ctx context.Context, org *roster.Organization) error {
	if org == nil || strings.TrimSpace(org.Slug) == "" || strings.TrimSpace(org.Name) == "" {
		return roster.Errorf(roster.EINVALID, "an organization needs a slug and a name")
	}
	domains, err := roster.CleanDomains(org.Domains)
	if err != nil {
		return err
	}
	id, now := newID("org_"), db.clock()
	var seq int64
	err = db.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO organizations (id, slug, name, hris_provider, learners_version, created_at) VALUES (?, ?, ?, ?, 0, ?)`,
			id, org.Slug, org.Name, org.HRISProvider, ts(now))
		if err != nil {
			return dbError(err, "organization")
		}
		if seq, err = res.LastInsertId(); err != nil {
			return dbError(err, "organization")
		}
		return insertDomains(ctx, tx, id, domains)
	})
	if err != nil {
		return err
	}
	db.orgKeys.Store(id, seq)
	org.ID, org.CreatedAt, org.Domains, org.LearnersVersion = id, now, domains, 0
	return nil
}

func insertDomains(ctx context.Context, tx *sql.Tx, orgID string, domains []string) error {
	for _, d := range domains {
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_domains (domain, org_id) VALUES (?, ?)`, d, orgID); err != nil {
			if roster.ErrorCode(dbError(err, "")) == roster.ECONFLICT {
				return &roster.Error{Code: roster.ECONFLICT, Message: "the email domain " + d + " already belongs to an organization", Err: err}
			}
			return dbError(err, "organization domain")
		}
	}
	return nil
}

// SetDomains replaces the organization's email domains.
func (db *DB) SetDomains(ctx context.Context, orgID string, domains []string) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	domains, err := roster.CleanDomains(domains)
	if err != nil {
		return err
	}
	return db.inWriteTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM organizations WHERE id = ?`, orgID).Scan(&one); err != nil {
			return dbError(err, "organization")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_domains WHERE org_id = ?`, orgID); err != nil {
			return dbError(err, "organization domains")
		}
		return insertDomains(ctx, tx, orgID, domains)
	})
}

const orgColumns = `id, slug, name, hris_provider, learners_version, created_at`

func scanOrg(s interface{ Scan(...any) error }) (*roster.Organization, error) {
	var o roster.Organization
	var created int64
	if err := s.Scan(&o.ID, &o.Slug, &o.Name, &o.HRISProvider, &o.LearnersVersion, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = fromTS(created)
	o.Domains = []string{}
	return &o, nil
}

func (db *DB) orgWhere(ctx context.Context, where string, arg any) (*roster.Organization, error) {
	o, err := scanOrg(db.r.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE `+where, arg))
	if err != nil {
		return nil, dbError(err, "organization")
	}
	rows, err := db.r.QueryContext(ctx, `SELECT domain FROM org_domains WHERE org_id = ? ORDER BY domain`, o.ID)
	if err != nil {
		return nil, dbError(err, "organization domains")
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, dbError(err, "organization domains")
		}
		o.Domains = append(o.Domains, d)
	}
	return o, dbError(rows.Err(), "organization domains")
}

// OrganizationBySlug returns the organization with that slug, or ENOTFOUND.
func (db *DB) OrganizationBySlug(ctx context.Context, slug string) (*roster.Organization, error) {
	return db.orgWhere(ctx, `slug = ?`, slug)
}

// OrganizationByID returns the organization with that ID, or ENOTFOUND.
func (db *DB) OrganizationByID(ctx context.Context, id string) (*roster.Organization, error) {
	if err := needOrg(id); err != nil {
		return nil, err
	}
	return db.orgWhere(ctx, `id = ?`, id)
}

// Organizations returns every organization, ordered by slug.
func (db *DB) Organizations(ctx context.Context) ([]roster.Organization, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+orgColumns+` FROM organizations ORDER BY slug`)
	if err != nil {
		return nil, dbError(err, "organizations")
	}
	defer rows.Close()
	orgs := []roster.Organization{}
	index := map[string]int{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, dbError(err, "organizations")
		}
		index[o.ID] = len(orgs)
		orgs = append(orgs, *o)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "organizations")
	}
	rows.Close()
	drows, err := db.r.QueryContext(ctx, `SELECT org_id, domain FROM org_domains ORDER BY domain`)
	if err != nil {
		return nil, dbError(err, "organization domains")
	}
	defer drows.Close()
	for drows.Next() {
		var org, d string
		if err := drows.Scan(&org, &d); err != nil {
			return nil, dbError(err, "organization domains")
		}
		if i, ok := index[org]; ok {
			orgs[i].Domains = append(orgs[i].Domains, d)
		}
	}
	return orgs, dbError(drows.Err(), "organization domains")
}

// orgKey returns the integer key of the organization, ENOTFOUND when there is none.
func (db *DB) orgKey(ctx context.Context, q queryer, orgID string) (int64, error) {
	if err := needOrg(orgID); err != nil {
		return 0, err
	}
	if k, ok := db.orgKeys.Load(orgID); ok {
		return k.(int64), nil
	}
	var k int64
	if err := q.QueryRowContext(ctx, `SELECT seq FROM organizations WHERE id = ?`, orgID).Scan(&k); err != nil {
		return 0, dbError(err, "organization")
	}
	db.orgKeys.Store(orgID, k)
	return k, nil
}
