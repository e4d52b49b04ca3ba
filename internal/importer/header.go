package importer

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/roster-dev/roster"
)

// aliases maps a normalised header (see headerKey) to its canonical column.
var aliases = map[string]string{
	"first_name": roster.ColFirstName, "firstname": roster.ColFirstName, "first": roster.ColFirstName,
	"given_name": roster.ColFirstName, "givenname": roster.ColFirstName, "forename": roster.ColFirstName,

	"last_name": roster.ColLastName, "lastname": roster.ColLastName, "last": roster.ColLastName,
	"surname": roster.ColLastName, "family_name": roster.ColLastName, "familyname": roster.ColLastName,

	"employee_email": roster.ColEmployeeEmail, "email": roster.ColEmployeeEmail, "e_mail": roster.ColEmployeeEmail,
	"work_email": roster.ColEmployeeEmail, "email_address": roster.ColEmployeeEmail, "e_mail_address": roster.ColEmployeeEmail,
	"work_email_address": roster.ColEmployeeEmail, "business_email": roster.ColEmployeeEmail,
	"employee_email_address": roster.ColEmployeeEmail, "mail": roster.ColEmployeeEmail,

	"employee_id": roster.ColEmployeeID, "employee_number": roster.ColEmployeeID, "employee_no": roster.ColEmployeeID,
	"employeeid": roster.ColEmployeeID, "emp_id": roster.ColEmployeeID, "staff_id": roster.ColEmployeeID,
	"employee_#": roster.ColEmployeeID, "hr_id": roster.ColEmployeeID, "personnel_number": roster.ColEmployeeID,

	"job_title": roster.ColJobTitle, "title": roster.ColJobTitle, "jobtitle": roster.ColJobTitle,
	"position": roster.ColJobTitle, "role": roster.ColJobTitle,

	"department": roster.ColDepartment, "dept": roster.ColDepartment, "team": roster.ColDepartment,

	"location": roster.ColLocation, "office": roster.ColLocation, "site": roster.ColLocation,
	"work_location": roster.ColLocation,

	"manager_email": roster.ColManagerEmail, "manager": roster.ColManagerEmail,
	"manager_email_address": roster.ColManagerEmail, "managers_email": roster.ColManagerEmail,
	"manager's_email": roster.ColManagerEmail, "line_manager": roster.ColManagerEmail,
	"line_manager_email": roster.ColManagerEmail, "supervisor_email": roster.ColManagerEmail,

	"membership_active": roster.ColMembershipActive, "active": roster.ColMembershipActive,
	"is_active": roster.ColMembershipActive, "membership": roster.ColMembershipActive,
}

// headerKey normalises a header cell as the contract says: BOM dropped, trimmed,
// lower-cased, runs of spaces, hyphens, dots (and underscores) made one underscore.
func headerKey(s string) string {
	s = strings.TrimPrefix(s, "\uFEFF")
	s = strings.TrimFunc(s, isTrimSpace)
	s = strings.ToLower(s)
	var b strings.Builder
	sep := false
	for _, r := range s {
		if r == '-' || r == '.' || r == '_' || unicode.IsSpace(r) {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// header is the result of mapping a header row: for each canonical column (index in
// roster.Columns) the cell index, or -1.
type header struct {
	index   [9]int
	written map[string]string // canonical -> header as written
	width   int               // number of header cells
}

// mapHeader maps the header row, which is row in the file (1 unless blank lines come
// first), reporting file errors and warnings on it.
func mapHeader(row int, cells []string, errs, warns func(roster.RowError)) (*header, bool) {
	h := &header{written: map[string]string{}, width: len(cells)}
	for i := range h.index {
		h.index[i] = -1
	}
	ok := true
	for i, cell := range cells {
		written, _ := normalise(cell)
		written = strings.TrimPrefix(written, "\uFEFF")
		if written == "" {
			continue
		}
		canon, known := aliases[headerKey(written)]
		if !known {
			warns(roster.RowError{Row: row, Code: roster.WarnUnknownColumn, Value: written,
				Message: fmt.Sprintf("The column %q is not one Roster knows; it is ignored.", written)})
			continue
		}
		ci := roster.ColumnIndex(canon)
		if prev := h.index[ci]; prev >= 0 {
			if ok || h.written[canon] != "" {
				errs(roster.RowError{Row: row, Column: canon, Code: roster.CodeDuplicateColumn, Value: written,
					Message: fmt.Sprintf("The columns %q and %q both mean %s; keep only one of them.", h.written[canon], written, canon)})
			}
			ok = false
			continue
		}
		h.index[ci] = i
		h.written[canon] = written
	}
	for ci, c := range roster.Columns {
		if c.Required && h.index[ci] < 0 {
			errs(roster.RowError{Row: row, Column: c.Name, Code: roster.CodeMissingColumn,
				Message: fmt.Sprintf("The required column %s is missing from the header row.", c.Name)})
			ok = false
		}
	}
	return h, ok
}
