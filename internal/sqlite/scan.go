package sqlite

import (
	"context"
	"database/sql"

	"github.com/roster-dev/roster"
)

// ScanLearners streams the organization's learners in table order (the cheapest order to
// read), with the fields an import compares. l is reused between calls.
func (l *lookup) ScanLearners(ctx context.Context, fn func(*roster.Learner) error) error {
	org, err := l.db.orgKey(ctx, l.q, l.orgID)
	if err != nil {
		return err
	}
	rows, err := l.q.QueryContext(ctx, `SELECT id, email, first_name, last_name, employee_id, job_title,
		department, location, manager_email, active FROM learners WHERE org = ?`, org)
	if err != nil {
		return dbError(err, "learners")
	}
	defer rows.Close()
	var x roster.Learner
	var empID sql.NullString
	for rows.Next() {
		if err := rows.Scan(&x.ID, &x.Email, &x.FirstName, &x.LastName, &empID, &x.JobTitle,
			&x.Department, &x.Location, &x.ManagerEmail, &x.Active); err != nil {
			return dbError(err, "learners")
		}
		x.EmployeeID = empID.String
		if err := fn(&x); err != nil {
			return err
		}
	}
	return dbError(rows.Err(), "learners")
}
