package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/csvsafe"
	"github.com/roster-dev/roster/internal/importer"
)

func templateBytes() []byte { return importer.Template() }

// learnersTemplate prints the template. It opens no store; --db is accepted, and ignored,
// like on every other command.
func learnersTemplate(e *env, args []string) error {
	fs, _ := newFlags(e, "learners template")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs("learners template", pos); err != nil {
		return err
	}
	_, err = e.stdout.Write(templateBytes())
	return err
}

func learnersImport(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "learners import")
	slug := fs.String("org", "", "organization slug (required)")
	dryRun := fs.Bool("dry-run", false, "validate and preview only; write nothing")
	format := fs.String("format", "text", "text or json")
	maxBytes := fs.Int64("max-bytes", importer.DefaultMaxBytes, "the largest file accepted, in bytes")
	maxRows := fs.Int("max-rows", importer.DefaultMaxRows, "the most data rows accepted")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format must be text or json")
	}
	if len(pos) != 1 {
		return usagef("learners import needs exactly one FILE (- for standard input)")
	}
	if *maxBytes < 0 {
		return usagef("--max-bytes must be 0 (the default, %d) or more", importer.DefaultMaxBytes)
	}
	if *maxRows < 0 {
		return usagef("--max-rows must be 0 (the default, %d) or more", importer.DefaultMaxRows)
	}
	in := importer.Input{Name: baseName(pos[0])}
	if pos[0] == "-" {
		// The importer tells CSV from XLSX by content, so a pipe needs no name.
		if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return usagef("- reads the file from standard input: pipe or redirect one in")
		}
		in.Name, in.R = "stdin", e.stdin
	} else {
		f, err := os.Open(pos[0])
		if err != nil {
			return usagef("cannot open %s: %v", pos[0], unwrapPathError(err))
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return usagef("%s is a directory, not a file", pos[0])
		}
		in.R = f
	}
	store, org, err := orgBySlug(ctx, e, *db, *slug)
	if err != nil {
		return err
	}
	defer store.Close()

	env := importer.Env{Org: org, Limits: importer.Limits{MaxBytes: *maxBytes, MaxRows: *maxRows}}
	prog := newProgress(e, *format == "text")
	env.Progress = prog.update
	var rep *roster.ImportReport
	if *dryRun {
		env.Lookup = store.Lookup(org.ID)
		rep, err = importer.Run(ctx, in, env)
	} else {
		rep, err = importer.Commit(ctx, store, in, env, -1, "cli")
	}
	prog.done()
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(e.stdout, rep, *dryRun)
	}
	if !rep.Valid {
		return exitCode(exitInvalid)
	}
	return nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// printReport writes the report for a person: counts, then errors grouped by code with
// their rows, then warnings.
func printReport(w io.Writer, rep *roster.ImportReport, dryRun bool) {
	f := rep.File
	desc := f.Format
	if f.Format == "csv" {
		desc = fmt.Sprintf("CSV, %s, delimiter %s", f.Encoding, delimName(f.Delimiter))
	} else if f.Format == "xlsx" {
		desc = "XLSX"
	}
	if desc != "" {
		fmt.Fprintf(w, "%s: %s read (%s)\n", f.Name, plural(rep.Rows, "row"), desc)
	} else {
		fmt.Fprintf(w, "%s\n", f.Name)
	}
	if rep.ErrorCount > 0 {
		fmt.Fprintf(w, "\n%s found. Resolve the errors, then upload again. Nothing was written.\n", plural(rep.ErrorCount, "error"))
		printGrouped(w, rep.Errors, rep.ErrorCodes, rep.ErrorCount)
	} else {
		s := rep.Summary
		fmt.Fprintf(w, "%s new, %s updated, %s unchanged\n", thousands(s.New), thousands(s.Updated), thousands(s.Unchanged))
	}
	if rep.WarningCount > 0 {
		counts := map[string]int{}
		for _, x := range rep.Warnings {
			counts[x.Code]++
		}
		fmt.Fprintf(w, "\n%s (not blocking):\n", plural(rep.WarningCount, "warning"))
		printGrouped(w, rep.Warnings, counts, rep.WarningCount)
	}
	switch {
	case rep.ErrorCount > 0:
	case dryRun:
		fmt.Fprintln(w, "\nDry run: nothing was written.")
	case rep.Committed && rep.BatchID != "":
		fmt.Fprintf(w, "\nCommitted as import batch %s.\n", rep.BatchID)
	default:
		fmt.Fprintln(w, "\nNothing to change: every learner is up to date.")
	}
}

func printGrouped(w io.Writer, list []roster.RowError, counts map[string]int, total int) {
	byCode := map[string][]roster.RowError{}
	var codes []string
	for _, x := range list {
		if byCode[x.Code] == nil {
			codes = append(codes, x.Code)
		}
		byCode[x.Code] = append(byCode[x.Code], x)
	}
	for c := range counts {
		if byCode[c] == nil {
			codes = append(codes, c)
		}
	}
	sort.SliceStable(codes, func(i, j int) bool { return counts[codes[i]] > counts[codes[j]] })
	for _, c := range codes {
		xs := byCode[c]
		var rows []string
		seen := map[int]bool{}
		for _, x := range xs {
			if !seen[x.Row] && len(rows) < 20 {
				seen[x.Row] = true
				rows = append(rows, strconv.Itoa(x.Row))
			}
		}
		more := ""
		if n := counts[c] - len(rows); n > 0 && len(rows) == 20 {
			more = ", …"
		}
		fmt.Fprintf(w, "  %s (%d): rows %s%s\n", c, counts[c], strings.Join(rows, ", "), more)
		for i, x := range xs {
			if i == 3 {
				fmt.Fprintf(w, "      …\n")
				break
			}
			loc := fmt.Sprintf("row %d", x.Row)
			if x.Column != "" {
				loc += ", " + x.Column
			}
			fmt.Fprintf(w, "      %s: %s\n", loc, x.Message)
		}
	}
	if total > len(list) {
		fmt.Fprintf(w, "  (the first %d of %d are listed; the API and the web app download them all as CSV)\n", len(list), total)
	}
}

func delimName(d string) string {
	switch d {
	case "\t":
		return "TAB"
	case "":
		return "none"
	}
	return strconv.Quote(d)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return thousands(n) + " " + word + "s"
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// progress prints a one-line counter on a terminal, and nothing when stderr is piped.
type progress struct {
	w     io.Writer
	on    bool
	last  time.Time
	start time.Time
	shown bool
}

func newProgress(e *env, text bool) *progress {
	p := &progress{w: e.stderr, start: time.Now()}
	if f, ok := e.stderr.(*os.File); ok && text && term.IsTerminal(int(f.Fd())) {
		p.on = true
	}
	return p
}

func (p *progress) update(rows int, bytes int64) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\r  %s rows read (%.1f MB) in %.1fs ", thousands(rows), float64(bytes)/1e6, time.Since(p.start).Seconds())
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func learnersList(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "learners list")
	slug := fs.String("org", "", "organization slug (required)")
	format := fs.String("format", "text", "text, json or csv")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs("learners list", pos); err != nil {
		return err
	}
	if *format != "text" && *format != "json" && *format != "csv" {
		return usagef("--format must be text, json or csv")
	}
	store, org, err := orgBySlug(ctx, e, *db, *slug)
	if err != nil {
		return err
	}
	defer store.Close()
	switch *format {
	case "json":
		return listJSON(ctx, e.stdout, store, org.ID)
	case "csv":
		return listCSV(ctx, e.stdout, store, org.ID)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tNAME\tEMPLOYEE ID\tJOB TITLE\tDEPARTMENT\tLOCATION\tMANAGER\tSTATUS")
	n := 0
	err = store.EachLearner(ctx, org.ID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error {
		n++
		_, err := fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Email, l.FirstName, l.LastName, l.EmployeeID,
			l.JobTitle, l.Department, l.Location, l.ManagerEmail, l.Status)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s\n", plural(n, "learner"))
	return nil
}

// listJSON streams a JSON array, "[]" when empty, without holding every learner.
func listJSON(ctx context.Context, w io.Writer, store roster.Store, orgID string) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	first := true
	err := store.EachLearner(ctx, orgID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if !first {
			io.WriteString(w, ",")
		}
		first = false
		io.WriteString(w, "\n  ")
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if !first {
		io.WriteString(w, "\n")
	}
	_, err = io.WriteString(w, "]\n")
	return err
}

func listCSV(ctx context.Context, w io.Writer, store roster.Store, orgID string) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	head := make([]string, 0, len(roster.Columns)+2)
	for _, c := range roster.Columns {
		head = append(head, c.Name)
	}
	cw.Write(append(head, "status", "created_at"))
	err := store.EachLearner(ctx, orgID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error {
		rec := []string{l.FirstName, l.LastName, l.Email, l.EmployeeID, l.JobTitle, l.Department, l.Location,
			l.ManagerEmail, strconv.FormatBool(l.Active), l.Status, l.CreatedAt.UTC().Format(time.RFC3339)}
		for i := range rec {
			rec[i] = csvsafe.Cell(rec[i])
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
