package roster

// The canonical columns of a learner file, in the order of the template and of the
// contract's columns table (errors are sorted by it).
const (
	ColFirstName        = "first_name"
	ColLastName         = "last_name"
	ColEmployeeEmail    = "employee_email"
	ColEmployeeID       = "employee_id"
	ColJobTitle         = "job_title"
	ColDepartment       = "department"
	ColLocation         = "location"
	ColManagerEmail     = "manager_email"
	ColMembershipActive = "membership_active"
)

// Column describes one canonical column.
type Column struct {
	Name     string
	Label    string // for people: "First name"
	Required bool
	Limit    int // in Unicode code points; 0 means no limit
	Help     string
}

// Columns is the contract's columns table.
var Columns = []Column{
	{ColFirstName, "First name", true, 100, "Given name"},
	{ColLastName, "Last name", true, 100, "Family name"},
	{ColEmployeeEmail, "Email", true, 254, "Work email: the learner's identity in your organization"},
	{ColEmployeeID, "Employee ID", false, 64, "HR id, unique in your organization when present"},
	{ColJobTitle, "Job title", false, 200, ""},
	{ColDepartment, "Department", false, 200, ""},
	{ColLocation, "Location", false, 200, "Free text: city, site, country"},
	{ColManagerEmail, "Manager email", false, 254, "The manager's work email"},
	{ColMembershipActive, "Membership active", false, 0, "true/false, yes/no, 1/0; blank: a new learner starts inactive, an existing one keeps theirs"},
}

// ColumnIndex returns the position of a canonical column in Columns, or len(Columns) for
// "" and unknown names (so that file-level messages sort after nothing but the row).
func ColumnIndex(name string) int {
	for i, c := range Columns {
		if c.Name == name {
			return i
		}
	}
	return len(Columns)
}

// Row error codes: they block the upload.
const (
	CodeMissingRequired     = "missing_required"
	CodeInvalidEmail        = "invalid_email"
	CodeUnrecognizedDomain  = "unrecognized_domain"
	CodeDuplicateEmail      = "duplicate_email"
	CodeDuplicateEmployeeID = "duplicate_employee_id"
	CodeEmployeeIDConflict  = "employee_id_conflict"
	CodeInvalidName         = "invalid_name"
	CodeTooLong             = "too_long"
	CodeInvalidValue        = "invalid_value"
	CodeMalformedRow        = "malformed_row"
)

// File error codes: on row 0 (the whole file) or row 1 (the header).
const (
	CodeUnsupportedFormat = "unsupported_format"
	CodeEmptyFile         = "empty_file"
	CodeFileTooLarge      = "file_too_large"
	CodeTooManyRows       = "too_many_rows"
	CodeMissingColumn     = "missing_column"
	CodeDuplicateColumn   = "duplicate_column"
)

// Warning codes: shown, never blocking.
const (
	WarnUnknownColumn   = "unknown_column"
	WarnExtraCells      = "extra_cells"
	WarnEncodingGuessed = "encoding_guessed"
	WarnManagerNotFound = "manager_not_found"
	WarnSelfManager     = "self_manager"
	WarnHRISManaged     = "hris_managed"
)

// MaxReportedErrors is how many errors (and warnings) a report lists; the counts are totals.
const MaxReportedErrors = 1000

// RowError is an error or a warning about one cell, one row, the header or the file.
type RowError struct {
	Row     int    `json:"row"`
	Column  string `json:"column"`
	Code    string `json:"code"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

// Less orders errors by row, then by the columns table, then by code.
func (e RowError) Less(o RowError) bool {
	if e.Row != o.Row {
		return e.Row < o.Row
	}
	if a, b := ColumnIndex(e.Column), ColumnIndex(o.Column); a != b {
		return a < b
	}
	if e.Code != o.Code {
		return e.Code < o.Code
	}
	return e.Value < o.Value
}

// FileInfo describes the file as read.
type FileInfo struct {
	Name      string `json:"name"`
	SHA256    string `json:"sha256"`
	Format    string `json:"format,omitempty"` // "csv" or "xlsx"; "" when unsupported
	Encoding  string `json:"encoding,omitempty"`
	Delimiter string `json:"delimiter,omitempty"` // CSV only
	Size      int64  `json:"size"`
}

// Summary counts the valid rows by what they would do.
type Summary struct {
	New       int `json:"new"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ImportReport is the one report every way in returns: CLI --format json, the API and the
// web wizard. Errors and Warnings are never nil.
type ImportReport struct {
	ID           string            `json:"id,omitempty"`
	File         FileInfo          `json:"file"`
	Columns      map[string]string `json:"columns"`
	Rows         int               `json:"rows"`
	Valid        bool              `json:"valid"`
	Summary      Summary           `json:"summary"`
	ErrorCount   int               `json:"error_count"`
	ErrorCodes   map[string]int    `json:"error_codes"`
	Errors       []RowError        `json:"errors"`
	WarningCount int               `json:"warning_count"`
	Warnings     []RowError        `json:"warnings"`
	Committed    bool              `json:"committed"`
	BatchID      string            `json:"batch_id,omitempty"`
}
