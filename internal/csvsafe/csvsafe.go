// Package csvsafe makes cells of exported CSV files safe to open in a spreadsheet program.
package csvsafe

// Cell neutralises a cell that a spreadsheet would run as a formula (OWASP's advice for CSV
// injection): a value starting with =, +, -, @, TAB or CR gets a leading apostrophe, which
// spreadsheets show as text and do not display.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
