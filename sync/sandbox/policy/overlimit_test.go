package policy_test

import (
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

func TestThePartAboveThePriceLimitIsSelfPaidAndTheRestSplitsByClass(t *testing.T) {
	r := policy.Rules{ClassBSelfPct: 10}
	it, err := r.SplitItemOver(protocol.ClassB, 2000, 400)
	if err != nil {
		t.Fatal(err)
	}
	if it != (policy.Item{Total: 2000, Overlimit: 400, PreSelfPay: 160, Eligible: 1440}) {
		t.Fatalf("split %+v", it)
	}
	if it.FullOwnPay+it.Overlimit+it.PreSelfPay+it.Eligible != it.Total {
		t.Fatal("the parts do not add up")
	}
	if _, err := r.SplitItemOver(protocol.ClassA, 2000, 2000); !errors.Is(err, policy.ErrItem) {
		t.Fatalf("an over-limit part of the whole amount: %v", err)
	}
}

func TestTheHospitalsPartIsRoundedDownAndBounded(t *testing.T) {
	for _, tt := range []struct{ personal, pct, want int64 }{{3333, 10, 333}, {1000, 0, 0}, {1000, 150, 1000}, {-5, 10, 0}} {
		if got := policy.HospitalPart(money.Fen(tt.personal), tt.pct); int64(got) != tt.want {
			t.Errorf("HospitalPart(%d, %d%%) = %d, want %d", tt.personal, tt.pct, got, tt.want)
		}
	}
}
