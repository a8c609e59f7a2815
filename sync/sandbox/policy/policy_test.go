package policy

import (
	"errors"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// rules are the numbers of the persona file's policy section.
var rules = Rules{
	Insurance: map[string]Insurance{
		protocol.InsutypeEmployee: {Deductible: money.CNY(500), RatioPct: 70, YearCap: money.CNY(8000), PersonalAccount: true},
		protocol.InsutypeResident: {Deductible: money.CNY(300), RatioPct: 50, YearCap: money.CNY(4000)},
	},
	ClassBSelfPct: 10,
	LimitPerTxn:   money.CNY(300),
	LimitDaily:    money.CNY(1000),
	CreditMinAge:  18,
	CreditMaxAge:  65,
}

func TestRulesValidate(t *testing.T) {
	if err := rules.Validate(); err != nil {
		t.Fatalf("the reference rules are refused: %v", err)
	}
	bad := map[string]func(r *Rules){
		"no insurance":        func(r *Rules) { r.Insurance = nil },
		"ratio over 100":      func(r *Rules) { r.Insurance = map[string]Insurance{"310": {RatioPct: 101}} },
		"negative deductible": func(r *Rules) { r.Insurance = map[string]Insurance{"310": {Deductible: -1}} },
		"class B over 100":    func(r *Rules) { r.ClassBSelfPct = 101 },
		"zero daily limit":    func(r *Rules) { r.LimitDaily = 0 },
		"credit ages crossed": func(r *Rules) { r.CreditMinAge, r.CreditMaxAge = 66, 18 },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			r := rules
			mutate(&r)
			if err := r.Validate(); !errors.Is(err, ErrRules) {
				t.Fatalf("Validate = %v, want ErrRules", err)
			}
		})
	}
}

func TestSplitItemByClass(t *testing.T) {
	tests := []struct {
		name   string
		class  string
		amount money.Fen
		want   Item
	}{
		{"class A is wholly eligible", protocol.ClassA, 12345, Item{Total: 12345, Eligible: 12345}},
		{"class B pays 10% first", protocol.ClassB, 10000, Item{Total: 10000, PreSelfPay: 1000, Eligible: 9000}},
		{"class B rounds the 10% down to the fen", protocol.ClassB, 1999, Item{Total: 1999, PreSelfPay: 199, Eligible: 1800}},
		{"class B of one fen is all eligible", protocol.ClassB, 1, Item{Total: 1, Eligible: 1}},
		{"class C is wholly self-paid", protocol.ClassC, 3379, Item{Total: 3379, FullOwnPay: 3379}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.SplitItem(tt.class, tt.amount)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("SplitItem = %+v, want %+v", got, tt.want)
			}
			if got.FullOwnPay+got.PreSelfPay+got.Eligible != got.Total {
				t.Fatalf("split %+v does not add up", got)
			}
		})
	}
}

func TestSplitItemRefusesBadItems(t *testing.T) {
	for _, tt := range []struct {
		name   string
		class  string
		amount money.Fen
	}{
		{"unknown class", "04", 100},
		{"empty class", "", 100},
		{"zero amount", protocol.ClassA, 0},
		{"negative amount", protocol.ClassA, -100},
		{"amount over the maximum", protocol.ClassA, money.Max + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := rules.SplitItem(tt.class, tt.amount); !errors.Is(err, ErrItem) {
				t.Fatalf("SplitItem = %v, want ErrItem", err)
			}
		})
	}
}

func TestSumAddsEveryPart(t *testing.T) {
	a, _ := rules.SplitItem(protocol.ClassA, 100)
	b, _ := rules.SplitItem(protocol.ClassB, 1999)
	c, _ := rules.SplitItem(protocol.ClassC, 50)
	got := Sum([]Item{a, b, c})
	want := Item{Total: 2149, FullOwnPay: 50, PreSelfPay: 199, Eligible: 1900}
	if got != want {
		t.Fatalf("Sum = %+v, want %+v", got, want)
	}
}

func TestFund(t *testing.T) {
	cny := money.CNY
	tests := []struct {
		name     string
		insutype string
		eligible money.Fen
		used     YearUsage
		want     Fund
	}{
		{"below the deductible the fund pays nothing", "310", cny(200), YearUsage{},
			Fund{Consumed: YearUsage{DeductibleUsed: cny(200)}}},
		{"exactly the deductible pays nothing", "310", cny(500), YearUsage{},
			Fund{Consumed: YearUsage{DeductibleUsed: cny(500)}}},
		{"above the deductible pays 70% for employees", "310", cny(700), YearUsage{},
			Fund{Pay: cny(140), Consumed: YearUsage{DeductibleUsed: cny(500), FundPaid: cny(140)}}},
		{"a met deductible leaves all of it at 70%", "310", cny(200), YearUsage{DeductibleUsed: cny(500)},
			Fund{Pay: cny(140), Consumed: YearUsage{FundPaid: cny(140)}}},
		{"a partly met deductible applies what remains", "310", cny(200), YearUsage{DeductibleUsed: cny(400)},
			Fund{Pay: cny(70), Consumed: YearUsage{DeductibleUsed: cny(100), FundPaid: cny(70)}}},
		{"residents pay 50% above 300", "390", cny(400), YearUsage{},
			Fund{Pay: cny(50), Consumed: YearUsage{DeductibleUsed: cny(300), FundPaid: cny(50)}}},
		{"the ratio rounds down to the fen", "310", 1, YearUsage{DeductibleUsed: cny(500)},
			Fund{Pay: 0, Consumed: YearUsage{}}},
		{"70% of 0.99 is 0.69", "310", 99, YearUsage{DeductibleUsed: cny(500)},
			Fund{Pay: 69, Consumed: YearUsage{FundPaid: 69}}},
		{"near the cap pays what remains", "310", cny(200), YearUsage{DeductibleUsed: cny(500), FundPaid: cny(7950)},
			Fund{Pay: cny(50), Consumed: YearUsage{FundPaid: cny(50)}, Capped: true}},
		{"a reached cap pays nothing", "390", cny(200), YearUsage{DeductibleUsed: cny(300), FundPaid: cny(4000)},
			Fund{Pay: 0, Capped: true}},
		{"usage over the cap is treated as the cap", "390", cny(200), YearUsage{DeductibleUsed: cny(300), FundPaid: cny(4100)},
			Fund{Pay: 0, Capped: true}},
		{"nothing eligible pays nothing", "310", 0, YearUsage{}, Fund{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.Fund(tt.insutype, tt.eligible, tt.used)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Fund = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFundRefusesUnknownTypeAndNegativeAmounts(t *testing.T) {
	if _, err := rules.Fund("999", 100, YearUsage{}); !errors.Is(err, ErrRules) {
		t.Fatalf("unknown type: %v, want ErrRules", err)
	}
	if _, err := rules.Fund("310", -1, YearUsage{}); !errors.Is(err, ErrRules) {
		t.Fatalf("negative eligible: %v, want ErrRules", err)
	}
}

func TestYearUsageAddAndUndo(t *testing.T) {
	u := YearUsage{DeductibleUsed: 100, FundPaid: 200}
	d := YearUsage{DeductibleUsed: 5, FundPaid: 7}
	if got := u.Add(d).Add(d.Neg()); got != u {
		t.Fatalf("adding and undoing = %+v, want %+v", got, u)
	}
}

func TestAgeOn(t *testing.T) {
	d := func(s string) time.Time {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		birth, on string
		want      int
	}{
		{"2008-11-23", "2026-11-23", 18},
		{"2008-11-24", "2026-11-23", 17},
		{"1960-11-23", "2026-11-23", 66},
		{"1960-11-24", "2026-11-23", 65},
		{"2000-02-29", "2025-02-28", 24},
		{"2000-02-29", "2025-03-01", 25},
		{"2000-02-29", "2024-02-29", 24},
		{"2000-02-29", "2024-02-28", 23},
	}
	for _, tt := range tests {
		if got := AgeOn(d(tt.birth), d(tt.on)); got != tt.want {
			t.Errorf("AgeOn(%s, %s) = %d, want %d", tt.birth, tt.on, got, tt.want)
		}
	}
}
