package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
)

// TestReconcileReportShowsBothLedgers: the window staff read the
// insurance platform's totals, the payment channel's statement, and each
// difference in the terms of its own ledger (a msgid and a setl_id on the
// platform, an order and the patient's part on the channel).
func TestReconcileReportShowsBothLedgers(t *testing.T) {
	rep := agent.Report{Date: "2026-03-10", Balanced: false,
		Totals:   []agent.ReportTotals{{Insutype: "310", Count: 2, Total: 30000, Fund: 12000, Account: 8000, Balanced: true}},
		Payments: &agent.PaymentTotals{Count: 3, Amount: 7550, ChannelCount: 2},
		Diffs: []agent.ReportDiff{
			{Kind: agent.DiffPaymentMissingChannel, Msgid: "H441900000012026031000001", SettlementID: "DESK01-00000007",
				Local: &agent.ReconcileItem{Cash: 2550}, Remedy: "collect it"},
			{Kind: agent.DiffPaymentAmount, Msgid: "H441900000012026031000002", SettlementID: "DESK01-00000008",
				Local: &agent.ReconcileItem{Cash: 1000}, Platform: &agent.ReconcileItem{Cash: 1001}, Remedy: "refund or collect"},
			{Kind: agent.DiffAmountMismatch, Msgid: "M1", SetlID: "S1", SettlementID: "DESK01-00000009",
				Local: &agent.ReconcileItem{Total: 500}, Platform: &agent.ReconcileItem{Total: 600}, Remedy: "print the corrected receipt"},
		},
	}
	var out bytes.Buffer
	printReport(&out, rep)
	for _, want := range []string{
		"reconciliation of 2026-03-10",
		"insurance 310: 2 settlements, total 300.00, fund 120.00, account 80.00: balanced",
		"payment channel: 3 orders here, net 75.50; 2 on the channel's statement: DIFFERS",
		"payment_missing_channel order H441900000012026031000001 (DESK01-00000007): here 25.50\n    -> collect it",
		"payment_amount_mismatch order H441900000012026031000002 (DESK01-00000008): here 10.00, channel 10.01",
		"amount_mismatch msgid M1 setl_id S1 (DESK01-00000009): here 5.00, platform 6.00",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "\nbalanced") {
		t.Errorf("an unbalanced report says balanced:\n%s", out.String())
	}

	out.Reset()
	printReport(&out, agent.Report{Date: "2026-03-10", Balanced: true})
	if !strings.Contains(out.String(), "payment channel: none configured") || !strings.HasSuffix(out.String(), "balanced\n") {
		t.Errorf("a terminal without a channel:\n%s", out.String())
	}
}
