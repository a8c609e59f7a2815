// Package leakscan looks through logs for personal data in clear: the
// sandbox's patients' ID numbers, names, card numbers, insurance numbers
// and card account numbers, and any resident ID number or bank card
// number at all (a valid check digit is what tells one from a msgid or an
// amount). make test runs it over every line the suite wrote.
package leakscan

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/seed-a859fada/medterm/agent/idno"
	"github.com/seed-a859fada/medterm/agent/pan"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Hit is one piece of personal data found in clear.
type Hit struct {
	Line int
	What string // "ID number", "name of acct-first", ...
	Text string // the line, with the value itself masked
}

func (h Hit) String() string { return fmt.Sprintf("line %d: %s: %s", h.Line, h.What, h.Text) }

// Scanner knows what to look for.
type Scanner struct {
	known map[string]string // value → what it is
}

// New is a scanner for the personas' data and any ID or card number.
func New(d *personas.Dataset) *Scanner {
	s := &Scanner{known: map[string]string{}}
	for i := range d.People {
		p := &d.People[i]
		s.known[p.Certno] = "ID number of " + p.Key
		s.known[p.Name] = "name of " + p.Key
		s.known[p.PsnNo] = "insurance number of " + p.Key
		if p.Card != nil {
			s.known[p.Card.CardNo] = "card number of " + p.Key
			s.known[p.Card.CardSn] = "card identifier of " + p.Key
		}
		if acct := cards.AccountNo(p); acct != "" {
			s.known[acct] = "card account of " + p.Key
		}
	}
	return s
}

var (
	idNumber   = regexp.MustCompile(`(^|[^0-9])([1-9][0-9]{16}[0-9Xx])([^0-9]|$)`)
	cardNumber = regexp.MustCompile(`(^|[^0-9])(62[0-9]{14,17})([^0-9]|$)`)
)

// Scan reads r line by line and returns every hit.
func (s *Scanner) Scan(r io.Reader) ([]Hit, error) {
	var hits []Hit
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		for v, what := range s.known {
			if v != "" && strings.Contains(line, v) {
				hits = append(hits, Hit{Line: n, What: what, Text: strings.ReplaceAll(line, v, "<"+what+">")})
			}
		}
		for _, m := range idNumber.FindAllStringSubmatch(line, -1) {
			if idno.Check(strings.ToUpper(m[2])) == nil {
				hits = append(hits, Hit{Line: n, What: "an ID number", Text: strings.ReplaceAll(line, m[2], "<ID number>")})
			}
		}
		for _, m := range cardNumber.FindAllStringSubmatch(line, -1) {
			if pan.Luhn(m[2]) {
				hits = append(hits, Hit{Line: n, What: "a bank card number", Text: strings.ReplaceAll(line, m[2], "<card number>")})
			}
		}
	}
	return hits, sc.Err()
}
