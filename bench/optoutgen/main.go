// Command optoutgen writes a synthetic opt-out file (the insurer's CSV that `carnet optout
// import` reads) of any size, in constant memory, for measuring the import:
//
//	optoutgen -n 1000000 -out people.csv
//
// Every person has a valid, unique NIR (with its key) in an order unrelated to the file's, as
// an insurer's extract would be; a third have no e-mail (so a postal notice); a share are
// minors whose parents are earlier rows of the file; a few rows are bad in the ways a real
// file is (wrong INS key, missing given name, impossible date, unknown parent, missing
// fields, a repeated person), each of which the import must reject with its line. The same
// flags give the same file. The summary on standard error says what the import should find.
//
// Never feed a file made here to a store holding real data.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/carnet-sante/carnet/internal/identity"
)

var (
	familyNames = []string{"MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU",
		"LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD"}
	women = []string{"Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Camille", "Léa", "Chloé", "Inès", "Manon"}
	men   = []string{"Jean", "Philippe", "Michel", "Alain", "Patrick", "Nicolas", "Lucas", "Hugo", "Louis", "Gabriel"}
	towns = []string{"75011 Paris", "69003 Lyon", "13005 Marseille", "31000 Toulouse", "59000 Lille", "33000 Bordeaux"}
)

type person struct{ ins, name string }

func main() {
	n := flag.Int("n", 1_000_000, "rows (people) to write")
	out := flag.String("out", "-", "output file (- for standard output)")
	seed := flag.Uint64("seed", 1, "random seed: the same seed gives the same file")
	minors := flag.Float64("minors", 0.05, "share of rows that are minors with their parents earlier in the file")
	postal := flag.Float64("postal", 1.0/3, "share of adults without e-mail (postal notice)")
	bad := flag.Float64("bad", 0.001, "share of bad rows")
	flag.Parse()
	w := io.Writer(os.Stdout)
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "optoutgen:", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	g := gen{rnd: rand.New(rand.NewPCG(*seed, 0x6f70746f7574)), minors: *minors, postal: *postal, bad: *bad}
	bw := bufio.NewWriterSize(w, 1<<20)
	s, err := g.write(bw, *n)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "optoutgen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%d rows: %d adults (%d postal), %d minors, %d bad; the import should create %d spaces, "+
		"count %d duplicates and %d other rejects, all %d in the rejects file\n",
		*n, s.adults, s.postal, s.minors, s.bad, s.adults+s.minors, s.dups, s.bad-s.dups, s.bad)
}

type gen struct {
	rnd                 *rand.Rand
	minors, postal, bad float64
	recent              [1024]person // the last adults written: parents for the minors that follow
	nRecent, nextPerson int
}

type summary struct{ adults, postal, minors, bad, dups int }

const header = "ins,birth_name,given_names,used_name,birth_date,sex,email,phone,postal_address,parent_ins\n"

func (g *gen) write(w *bufio.Writer, n int) (summary, error) {
	var s summary
	if _, err := w.WriteString(header); err != nil {
		return s, err
	}
	for i := 0; i < n; i++ {
		var line string
		switch r := g.rnd.Float64(); {
		case r < g.bad && g.nRecent > 0:
			var dup bool
			line, dup = g.badRow(i)
			s.bad++
			if dup {
				s.dups++
			}
		case r < g.bad+g.minors && g.nRecent >= 2:
			line = g.minor()
			s.minors++
		default:
			var post bool
			line, post = g.adult()
			s.adults++
			if post {
				s.postal++
			}
		}
		if _, err := w.WriteString(line); err != nil {
			return s, err
		}
	}
	return s, nil
}

// nir returns the next person's NIR (13 digits, then the key): a unique department, commune
// and order number (the last 8 digits) drawn from a permutation of the person's number, so
// that consecutive rows are far apart in the INS order, as in an insurer's extract.
func (g *gen) nir(female bool, year, month int) string {
	k := g.nextPerson
	g.nextPerson++
	// Departments 01-95 × communes 000-999 × orders 000-999; a prime multiplier makes a
	// bijection of [0, space), so the numbers are unique and scattered.
	const space = 95_000_000
	p := (uint64(k)*2_654_435_761 + 12_345) % space
	sex := 1
	if female {
		sex = 2
	}
	nir13 := fmt.Sprintf("%d%02d%02d%02d%06d", sex, year%100, month, 1+p/1_000_000, p%1_000_000)
	key, err := identity.INSKey(nir13)
	if err != nil {
		panic(err) // the layout above is always valid
	}
	return nir13 + key
}

func (g *gen) identity(minYear, maxYear int) (ins, family, given, born, sex string) {
	female := g.rnd.IntN(2) == 0
	year, month, day := minYear+g.rnd.IntN(maxYear-minYear+1), 1+g.rnd.IntN(12), 1+g.rnd.IntN(28)
	family = familyNames[g.rnd.IntN(len(familyNames))]
	given, sex = men[g.rnd.IntN(len(men))], "M"
	if female {
		given, sex = women[g.rnd.IntN(len(women))]+" "+women[g.rnd.IntN(len(women))], "F"
	}
	return g.nir(female, year, month), family, given, fmt.Sprintf("%04d-%02d-%02d", year, month, day), sex
}

func (g *gen) adult() (string, bool) {
	ins, family, given, born, sex := g.identity(1930, 2005)
	email, phone, addr := fmt.Sprintf("%s.%d@example.fr", strings.ToLower(family), g.nextPerson),
		fmt.Sprintf("06%08d", g.rnd.IntN(100_000_000)), ""
	postal := g.rnd.Float64() < g.postal
	if postal {
		email, addr = "", fmt.Sprintf("\"%d rue de la République, %s\"", 1+g.rnd.IntN(200), towns[g.rnd.IntN(len(towns))])
	}
	g.recent[g.nRecent%len(g.recent)] = person{ins: ins, name: family}
	g.nRecent++
	return strings.Join([]string{ins, family, given, "", born, sex, email, phone, addr, ""}, ",") + "\n", postal
}

// parents picks two different adults among the last ones written.
func (g *gen) parents() (person, person) {
	n := min(g.nRecent, len(g.recent))
	a := g.rnd.IntN(n)
	b := (a + 1 + g.rnd.IntN(n-1)) % n
	return g.recent[a], g.recent[b]
}

func (g *gen) minor() string {
	ins, _, given, born, sex := g.identity(2010, 2025)
	mum, dad := g.parents()
	return strings.Join([]string{ins, mum.name, given, "", born, sex, "", "", "", mum.ins + "|" + dad.ins}, ",") + "\n"
}

// badRow writes one of the mistakes a real file holds; dup reports a repeated person.
func (g *gen) badRow(line int) (row string, dup bool) {
	ins, family, given, born, sex := g.identity(1950, 2000)
	fields := []string{ins, family, given, "", born, sex, "x@example.fr", "", "", ""}
	switch line % 6 {
	case 0: // wrong key
		k := ins[13:]
		fields[0] = ins[:13] + fmt.Sprintf("%02d", (int(k[0]-'0')*10+int(k[1]-'0')+1)%100)
	case 1: // missing given name
		fields[2] = ""
	case 2: // impossible date
		fields[4] = born[:5] + "13" + born[7:]
	case 3: // a minor whose parent has no space
		cins, _, cgiven, cborn, csex := g.identity(2012, 2020)
		fields = []string{cins, family, cgiven, "", cborn, csex, "", "", "", g.nir(true, 1980, 1)}
	case 4: // missing fields
		fields = fields[:6]
	case 5: // the same person again
		p := g.recent[g.rnd.IntN(min(g.nRecent, len(g.recent)))]
		fields[0], fields[1] = p.ins, p.name
		dup = true
	}
	return strings.Join(fields, ",") + "\n", dup
}
