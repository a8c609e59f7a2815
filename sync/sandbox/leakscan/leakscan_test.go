package leakscan_test

import (
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/sync/sandbox/leakscan"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

func TestItFindsPersonalDataInClearAndNothingMasked(t *testing.T) {
	d, err := personas.Default()
	if err != nil {
		t.Fatal(err)
	}
	s := leakscan.New(d)
	log := strings.Join([]string{
		`time=… level=INFO msg="card inserted" reader=desk id_no=441900********0115 name=陈**`,               // masked: fine
		`time=… level=INFO msg=settled id=DESK01-00000001 msgid=H44190000001202612020900000001 amount=5000`, // ids, not people
		`time=… level=INFO msg="card inserted" id_no=441900197504120115`,                                    // acct-first's ID number
		`patient 李秀英 settled`, // bank-card's name
		`an ID number nobody in the data set has: 110105194912310021 and 11010519491231002X`, // generic, valid check digit
		`paid from 6217000000198800017`, // a card account (Luhn)
	}, "\n")
	hits, err := s.Scan(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[int]int{}
	for _, h := range hits {
		lines[h.Line]++
		if strings.Contains(h.Text, "441900197504120115") || strings.Contains(h.Text, "李秀英") {
			t.Errorf("a hit repeats the value it found: %s", h)
		}
	}
	for _, want := range []int{3, 4, 5, 6} {
		if lines[want] == 0 {
			t.Errorf("line %d not reported; hits %v", want, hits)
		}
	}
	for _, clean := range []int{1, 2} {
		if lines[clean] != 0 {
			t.Errorf("line %d reported: %v", clean, hits)
		}
	}
}
