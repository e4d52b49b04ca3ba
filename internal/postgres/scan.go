package postgres

import (
	"context"

	"github.com/roster-dev/roster"
)

// ScanLearners streams the organization's learners in no particular order, with the
// fields an import compares. l is reused between calls.
func (l *lookup) ScanLearners(ctx context.Context, fn func(*roster.Learner) error) error {
	org, err := l.key(ctx)
	if err != nil {
		return err
	}
	rows, err := l.q.Query(ctx, `SELECT id, email, first_name, last_name, coalesce(employee_id, ''), job_title,
		department, location, manager_email, active FROM `+l.table+` WHERE `+orgIs, org)
	if err != nil {
		return dbErr(err, "learners")
	}
	defer rows.Close()
	var x roster.Learner
	for rows.Next() {
		if err := rows.Scan(&x.ID, &x.Email, &x.FirstName, &x.LastName, &x.EmployeeID, &x.JobTitle,
			&x.Department, &x.Location, &x.ManagerEmail, &x.Active); err != nil {
			return dbErr(err, "learners")
		}
		if err := fn(&x); err != nil {
			return err
		}
	}
	return dbErr(rows.Err(), "learners")
}
