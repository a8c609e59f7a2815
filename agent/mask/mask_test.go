package mask_test

import (
	"testing"

	"github.com/seed-a859fada/medterm/agent/mask"
)

func TestMaskHidesAllButWhatIdentifiesTheRecordToStaff(t *testing.T) {
	cases := []struct{ got, want string }{
		{mask.IDNo("440101199001011234"), "4401**********1234"},
		{mask.IDNo("11010519491231002X"), "1101**********002X"},
		{mask.Name("张三丰"), "张**"},
		{mask.Name("龚䶮"), "龚*"},
		{mask.Name("A"), "*"},
		{mask.Card("D19880001"), "*****0001"},
		{mask.PAN("6217000000000000001"), "6217 **** **** 0001"},
		{mask.PAN("6217000012345678"), "6217 **** **** 5678"},
		{mask.PAN("62170001"), "****0001"},
		{mask.PAN(""), ""},
		{mask.IDNo("123"), "1**"},
		{mask.IDNo(""), ""},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q; want %q", c.got, c.want)
		}
	}
}
