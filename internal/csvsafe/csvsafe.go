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

// Unquote undoes Cell: a value that starts with an apostrophe followed by a character
// Cell guards (= + - @ TAB CR) loses the apostrophe, so that a file Roster exported (or
// the rows-with-errors file, fixed and uploaded again) imports as the values it came from
// instead of storing the apostrophes. Any other apostrophe is part of the value
// ("'Ohana", "O'Brien").
func Unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' {
		switch s[1] {
		case '=', '+', '-', '@', '\t', '\r':
			return s[1:]
		}
	}
	return s
}
