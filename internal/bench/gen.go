// Package bench generates synthetic learner files and measures the import pipeline on a
// store: validate, commit as new learners, and re-import with a share of rows changed.
// `roster bench` runs it; docs/benchmarks.md holds the figures.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// A person's name in one script, with an ASCII form for the email address.
type name struct{ text, ascii string }

var firstNames = []name{
	{"José", "jose"}, {"Zoë", "zoe"}, {"Anne-Marie", "annemarie"}, {"Liam", "liam"}, {"Olivia", "olivia"},
	{"Søren", "soren"}, {"Łukasz", "lukasz"}, {"Ayşe", "ayse"}, {"Priya", "priya"}, {"Hiroshi", "hiroshi"},
	{"Владимир", "vladimir"}, {"Μαρία", "maria"}, {"محمد", "mohammed"}, {"李娜", "lina"}, {"Yuki", "yuki"},
	{"Chloé", "chloe"}, {"Mateus", "mateus"}, {"Aoife", "aoife"}, {"Noah", "noah"}, {"Fatima", "fatima"},
	{"Thắng", "thang"}, {"Ingrid", "ingrid"}, {"Kwame", "kwame"}, {"Sofía", "sofia"}, {"Ji-woo", "jiwoo"},
}

var lastNames = []name{
	{"García", "garcia"}, {"O'Brien", "obrien"}, {"Nguyễn", "nguyen"}, {"Müller", "muller"}, {"Smith", "smith"},
	{"Kowalski", "kowalski"}, {"Yılmaz", "yilmaz"}, {"Patel", "patel"}, {"Tanaka", "tanaka"}, {"Иванов", "ivanov"},
	{"Παπαδόπουλος", "papadopoulos"}, {"Haddad", "haddad"}, {"王", "wang"}, {"Dubois", "dubois"}, {"Silva", "silva"},
	{"Van der Berg", "vanderberg"}, {"Mensah", "mensah"}, {"Johansson", "johansson"}, {"Kim", "kim"}, {"St. John", "stjohn"},
}

var titles = []string{"Software Engineer", "Account Executive", "HR Business Partner", "Support Specialist",
	"Data Analyst", "Product Manager", "Nurse", "Warehouse Associate", "Finance Controller", "Designer"}
var departments = []string{"Engineering", "Sales", "People", "Support", "Finance", "Operations", "Marketing", "Legal"}
var locations = []string{"Berlin, Germany", "São Paulo, Brazil", "Austin, TX", "London, UK", "Bengaluru, India",
	"Tokyo, Japan", "Kraków, Poland", "Remote"}

// Header is the header row of generated files: the template's columns.
const Header = "first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email,membership_active\r\n"

// Domain is the email domain of generated learners.
const Domain = "bench.example.com"

// person is generated learner i: every field comes from a random stream seeded by the
// row, so that any row (a manager's, say) can be made on its own.
type person struct {
	first, last      name
	title, dept, loc string
	manager          int
	active           bool
}

func makePerson(i, n int, seed uint64) person {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	return person{
		first:   firstNames[rng.IntN(len(firstNames))],
		last:    lastNames[rng.IntN(len(lastNames))],
		title:   titles[rng.IntN(len(titles))],
		dept:    departments[rng.IntN(len(departments))],
		loc:     locations[rng.IntN(len(locations))],
		manager: rng.IntN(max(n/100, 1)),
		active:  rng.IntN(5) != 0,
	}
}

func (p person) email(i int) string {
	return fmt.Sprintf("%s.%s.%d@%s", p.first.ascii, p.last.ascii, i, Domain)
}

// Generate writes a CSV file of n learners. Row i is the same in every file with the same
// n and seed, except that with changed > 0 a deterministic share of rows get another job
// title and department (the "re-import with changes" file). One learner in a hundred
// manages others, so every manager email is in the file.
func Generate(w io.Writer, n int, changed float64, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.WriteString(Header); err != nil {
		return err
	}
	chg := rand.New(rand.NewPCG(seed, 0xc4a9))
	var b strings.Builder
	for i := 0; i < n; i++ {
		p := makePerson(i, n, seed)
		if changed > 0 && chg.Float64() < changed {
			p.title = titles[(indexOf(titles, p.title)+1)%len(titles)]
			p.dept = departments[(indexOf(departments, p.dept)+1)%len(departments)]
		}
		b.Reset()
		fmt.Fprintf(&b, "%s,%s,%s,E%08d,%s,%s,%s,%s,%t\r\n",
			p.first.text, csvQuote(p.last.text), p.email(i), i+1, p.title, p.dept, csvQuote(p.loc),
			makePerson(p.manager, n, seed).email(p.manager), p.active)
		if _, err := bw.WriteString(b.String()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return 0
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}
