// Package csvsafe makes cells of exported CSV files safe to open in a spreadsheet program.
package csvsafe

// Cell neutralises a cell that a spreadsheet would run as a formula (OWASP's advice for CSV
// injection): a value starting with =, +, -, @, TAB or CR gets a leading apostrophe, which
// spreadsheets show as text and do not display. So does a value that already starts with
// apostrophes before one of those (an apostrophe and "=x" gains a second apostrophe), so
// that Unquote gives back exactly what Cell was given.
func Cell(s string) string {
	if guarded(s) {
		return "'" + s
	}
	return s
}

// Unquote undoes Cell: a value of apostrophes followed by a character Cell guards (= + - @
// TAB CR) loses one apostrophe, so that a file Roster exported (or the rows-with-errors
// file, fixed and uploaded again) imports as the values it came from instead of storing
// the apostrophes. Any other apostrophe is part of the value ("'Ohana", "O'Brien").
func Unquote(s string) string {
	if len(s) > 0 && s[0] == '\'' && guarded(s[1:]) {
		return s[1:]
	}
	return s
}

// guarded says whether s, after any leading apostrophes, starts with a character a
// spreadsheet would read as the start of a formula.
func guarded(s string) bool {
	i := 0
	for i < len(s) && s[i] == '\'' {
		i++
	}
	if i == len(s) {
		return false
	}
	switch s[i] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}
