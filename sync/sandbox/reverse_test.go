package sandbox_test

import (
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

func reversal(psnNo, omsgid, oinfno string) protocol.ReverseInput {
	return protocol.ReverseInput{Data: protocol.ReverseData{PsnNo: psnNo, Omsgid: omsgid, Oinfno: oinfno}}
}

func TestReversingAProcessedSettlementUndoesIt(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	before := h.ledger()
	b := h.prepare("credit-fallback", classA(cny(100)))
	settleMsgid := h.nextMsgid()
	output[protocol.SettleOutput](t, h.callAs("2207", settleMsgid, b.settleInput()))

	revMsgid := h.nextMsgid()
	first := h.callAs("2601", revMsgid, reversal(b.psnNo, settleMsgid, "2207"))
	if !first.OK() || first.Output != nil {
		t.Fatalf("2601 answered %+v; want a success without output", first)
	}
	after := h.ledger()
	pb, _ := before.Person("credit-fallback")
	pa, _ := after.Person("credit-fallback")
	if pa.CreditAvailable != pb.CreditAvailable || !equalJSON(t, pa.Years, pb.Years) {
		t.Fatalf("after reversal %+v, before %+v", pa, pb)
	}
	if s := after.Settlements[0]; !s.Reversed || s.ReverseMsgid != revMsgid || s.Cancelled {
		t.Fatalf("ledger settlement %+v", s)
	}
	// Reversing twice returns the first answer; nothing moves again.
	again := h.callAs("2601", revMsgid, reversal(b.psnNo, settleMsgid, "2207"))
	if !strings.Contains(again.WarnMsg, protocol.CodeDuplicate) || !again.OK() || again.Output != nil {
		t.Fatalf("second 2601: %+v", again)
	}
	// A second reversal under a new msgid is answered and changes nothing.
	output[protocol.ReverseOutput](t, h.call("2601", reversal(b.psnNo, settleMsgid, "2207")))
	if !equalJSON(t, after.People, h.ledger().People) {
		t.Fatal("a repeated reversal moved money")
	}
	// A reversed settlement cannot be cancelled, and its batch settles anew.
	refused(t, h.call("2208", protocol.CancelInput{Data: protocol.CancelData{SetlID: after.Settlements[0].SetlID, MdtrtID: b.mdtrtID, PsnNo: b.psnNo}}), protocol.CodeAlreadyRefunded)
	h.settle(b)
}

func TestReversingANeverSeenMsgidRefusesItForever(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(100)))
	lost := h.nextMsgid() // the agent sent it; the platform never saw it
	revMsgid := h.nextMsgid()
	rev := h.callAs("2601", revMsgid, reversal(b.psnNo, lost, "2207"))
	refused(t, rev, protocol.CodeNotFound)
	if got := h.ledger().Tombstones; len(got) != 1 || got[0] != lost {
		t.Fatalf("tombstones %v", got)
	}
	// The original arrives late: refused, never booked, also after a
	// restart.
	refused(t, h.callAs("2207", lost, b.settleInput()), protocol.CodeReversed)
	h.reopen()
	refused(t, h.callAs("2207", lost, b.settleInput()), protocol.CodeReversed)
	l := h.ledger()
	lp, _ := l.Person("acct-first")
	if len(l.Settlements) != 0 || lp.AccountBalance.Fen() != cny(2000) {
		t.Fatalf("the late original was booked: %+v", l.Settlements)
	}
	// The NOT_FOUND answer is the 2601's answer, replayed.
	again := h.callAs("2601", revMsgid, reversal(b.psnNo, lost, "2207"))
	refused(t, again, protocol.CodeNotFound)
	if again.WarnMsg != protocol.CodeDuplicate {
		t.Fatalf("2601 not replayed: %+v", again)
	}
	// The bill settles under a new msgid.
	h.settle(b)
}

func TestReversingACancelRebooksTheSettlement(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("bank-card", classA(cny(100)))
	out := h.settle(b)
	booked := h.ledger()
	cancelMsgid := h.nextMsgid()
	output[protocol.CancelOutput](t, h.callAs("2208", cancelMsgid, protocol.CancelInput{Data: protocol.CancelData{SetlID: out.Setlinfo.SetlID, MdtrtID: b.mdtrtID, PsnNo: b.psnNo}}))
	output[protocol.ReverseOutput](t, h.call("2601", reversal(b.psnNo, cancelMsgid, "2208")))
	rebooked := h.ledger()
	if !equalJSON(t, booked.People, rebooked.People) {
		t.Fatal("re-booking did not restore the balances of the booking")
	}
	if s := rebooked.Settlements[0]; s.Cancelled || s.Reversed || s.CancelMsgid != "" {
		t.Fatalf("settlement after the cancel's reversal %+v", s)
	}
	// It is active again: it can be cancelled again, and its batch is
	// taken.
	refused(t, h.call("2207", b.settleInput()), protocol.CodeBadRequest)
	output[protocol.CancelOutput](t, h.call("2208", protocol.CancelInput{Data: protocol.CancelData{SetlID: out.Setlinfo.SetlID, MdtrtID: b.mdtrtID, PsnNo: b.psnNo}}))
}

func TestReversalRefusals(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	b := h.prepare("acct-first", classA(cny(100)))
	settleMsgid := h.nextMsgid()
	output[protocol.SettleOutput](t, h.callAs("2207", settleMsgid, b.settleInput()))
	for name, in := range map[string]protocol.ReverseInput{
		"the wrong oinfno":            reversal(b.psnNo, settleMsgid, "2208"),
		"an oinfno never reversed":    reversal(b.psnNo, settleMsgid, "2204"),
		"someone else's settlement":   reversal(h.person("bank-card").PsnNo, settleMsgid, "2207"),
		"another institution's msgid": reversal(b.psnNo, inst2+settleMsgid[12:], "2207"),
		"a malformed omsgid":          reversal(b.psnNo, "nope", "2207"),
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, h.call("2601", in), protocol.CodeBadRequest)
		})
	}
	if l := h.ledger(); l.Settlements[0].Reversed || len(l.Tombstones) != 0 {
		t.Fatalf("a refused reversal changed the ledger: %+v", l)
	}
}

func TestReconciliationTotals(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	day1 := h.settle(h.prepare("deductible-met", classA(cny(200)))) // fund 140, acct 60
	day1b := h.settle(h.prepare("resident-390", classA(cny(200))))  // 390: fund 50, cash 150
	cancelled := h.settle(h.prepare("acct-first", classA(cny(10)))) // cancelled below
	h.clock.Set(start.Add(24 * time.Hour))
	h.signIn()
	day2 := h.settle(h.prepare("near-cap", classA(cny(200)))) // fund 50, acct 150
	ok[protocol.CancelOutput](h, "2208", protocol.CancelInput{Data: protocol.CancelData{SetlID: cancelled.Setlinfo.SetlID, MdtrtID: cancelled.Setlinfo.MdtrtID, PsnNo: cancelled.Setlinfo.PsnNo}})

	sum := func(outs ...protocol.SettleOutput) (total, fund, acct money.Fen) {
		for _, o := range outs {
			total, fund, acct = total+o.Setlinfo.MedfeeSumamt.Fen(), fund+o.Setlinfo.FundPaySumamt.Fen(), acct+o.Setlinfo.AcctPay.Fen()
		}
		return
	}
	query := func(begin, end, insutype string, count int64, outs ...protocol.SettleOutput) protocol.ReconcileInput {
		total, fund, acct := sum(outs...)
		return protocol.ReconcileInput{Data: protocol.ReconcileData{
			Insutype: insutype, ClrType: "11", StmtBegndate: begin, StmtEnddate: end,
			MedfeeSumamt: protocol.Amount(total), FundPaySumamt: protocol.Amount(fund), AcctPay: protocol.Amount(acct), FixmedinsSetlCnt: count,
		}}
	}
	tests := []struct {
		name string
		in   protocol.ReconcileInput
		rslt string
	}{
		{"both days, all types", query("2026-11-23", "2026-11-24", "", 3, day1, day1b, day2), protocol.StmtBalanced},
		{"the first day only", query("2026-11-23", "2026-11-23", "", 2, day1, day1b), protocol.StmtBalanced},
		{"employees only", query("2026-11-23", "2026-11-24", "310", 2, day1, day2), protocol.StmtBalanced},
		{"counting the cancelled one", query("2026-11-23", "2026-11-24", "", 4, day1, day1b, day2, cancelled), protocol.StmtInstitutionMore},
		{"one settlement missing", query("2026-11-23", "2026-11-24", "", 2, day1, day2), protocol.StmtPlatformMore},
		{"a period with nothing", query("2026-10-01", "2026-10-31", "", 0), protocol.StmtBalanced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := ok[protocol.ReconcileOutput](h, "3201", tt.in)
			if out.Stmtinfo.StmtRslt != tt.rslt {
				t.Fatalf("stmt_rslt %s (%s), want %s", out.Stmtinfo.StmtRslt, out.Stmtinfo.StmtRsltDscr, tt.rslt)
			}
			mustContain(t, out.Stmtinfo.StmtRsltDscr, "中心: ")
		})
	}
	bad := query("2026-11-24", "2026-11-23", "", 0)
	refused(t, h.call("3201", bad), protocol.CodeBadRequest)
	// Another institution's reconciliation sees none of these.
	h.inst, h.msgids, h.signNo = inst2, protocol.MsgidClock{}, ""
	h.signIn()
	if out := ok[protocol.ReconcileOutput](h, "3201", query("2026-11-23", "2026-11-24", "", 0)); out.Stmtinfo.StmtRslt != protocol.StmtBalanced {
		t.Fatalf("other institution: %+v", out.Stmtinfo)
	}
}
