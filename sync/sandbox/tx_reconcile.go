package sandbox

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// scope is the part of the institution's settlements a reconciliation
// compares: a period of CST dates, an insurance type (empty: all) and a
// terminal (empty: all of the institution's).
type scope struct {
	begin, end string
	insutype   string
	devNo      string
}

func (c *call) scope(begin, end, insutype, devNo string) (scope, error) {
	b, err1 := protocol.ParseDate(begin)
	e, err2 := protocol.ParseDate(end)
	if err1 != nil || err2 != nil || e.Before(b) {
		return scope{}, refuse(protocol.CodeBadRequest, "stmt_begndate and stmt_enddate must be two dates in order")
	}
	if _, ok := c.p.rules.Insurance[insutype]; insutype != "" && !ok {
		return scope{}, refuse(protocol.CodeBadRequest, "unknown insutype %q", insutype)
	}
	return scope{begin: begin, end: end, insutype: insutype, devNo: devNo}, nil
}

// active returns the institution's active settlements in the scope.
func (c *call) active(sc scope) ([]settlement, error) {
	var out []settlement
	err := c.tx.Bucket(bucketSettlements).ForEach(func(_, v []byte) error {
		var s settlement
		if err := unmarshalState(v, &s); err != nil {
			return err
		}
		if s.Institution != c.inst.Code || !s.active() || s.Date < sc.begin || s.Date > sc.end ||
			(sc.insutype != "" && s.Insutype != sc.insutype) || (sc.devNo != "" && s.DevNo != sc.devNo) {
			return nil
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// 3201: compare the totals of the institution (or of one terminal) for a
// period with the platform's active settlements.
func reconcile(c *call, in *protocol.ReconcileInput) (any, error) {
	d := in.Data
	sc, err := c.scope(d.StmtBegndate, d.StmtEnddate, d.Insutype, d.DevNo)
	if err != nil {
		return nil, err
	}
	all, err := c.active(sc)
	if err != nil {
		return nil, err
	}
	var total, fund, acct money.Fen
	for _, s := range all {
		total, fund, acct = total+s.Total, fund+s.Fund, acct+s.AcctPay
	}
	count := int64(len(all))
	figures := fmt.Sprintf("platform: %d settlements, medfee_sumamt %s, fund_pay_sumamt %s, acct_pay %s", count, total, fund, acct)
	if count == d.FixmedinsSetlCnt && total == d.MedfeeSumamt.Fen() && fund == d.FundPaySumamt.Fen() && acct == d.AcctPay.Fen() {
		return protocol.ReconcileOutput{Data: protocol.ReconcileResult{StmtRslt: protocol.StmtBalanced, StmtRsltDscr: "balanced; " + figures}}, nil
	}
	return protocol.ReconcileOutput{Data: protocol.ReconcileResult{StmtRslt: protocol.StmtUnbalanced, StmtRsltDscr: "not balanced; " + figures}}, nil
}

// 3202: every difference between the caller's list of settlements and
// the platform's active ones in the same scope, matched by the 2207
// msgid. A settlement the caller lists that the platform cancelled or
// reversed is missing on the platform: it no longer counts there.
func reconcileDetail(c *call, in *protocol.ReconcileDetailInput) (any, error) {
	d := in.Data
	sc, err := c.scope(d.StmtBegndate, d.StmtEnddate, d.Insutype, d.DevNo)
	if err != nil {
		return nil, err
	}
	local := make(map[string]protocol.ReconcileItem, len(in.Detail))
	for i, it := range in.Detail {
		if err := c.checkItem(it); err != nil {
			return nil, refuse(protocol.CodeBadRequest, "detail %d: %s", i+1, err)
		}
		if _, dup := local[it.Msgid]; dup {
			return nil, refuse(protocol.CodeBadRequest, "detail %d: msgid %s listed twice", i+1, it.Msgid)
		}
		local[it.Msgid] = it
	}
	all, err := c.active(sc)
	if err != nil {
		return nil, err
	}
	diffs := []protocol.ReconcileDiff{}
	for _, s := range all {
		plat := reconcileItem(s)
		loc, listed := local[s.Msgid]
		delete(local, s.Msgid)
		switch {
		case !listed:
			diffs = append(diffs, protocol.ReconcileDiff{Kind: protocol.DiffMissingLocal, Msgid: s.Msgid, SetlID: s.SetlID, Platform: &plat})
		case !sameAmounts(plat, loc):
			diffs = append(diffs, protocol.ReconcileDiff{Kind: protocol.DiffAmountMismatch, Msgid: s.Msgid, SetlID: s.SetlID, Platform: &plat, Local: &loc})
		}
	}
	for _, loc := range local {
		diffs = append(diffs, protocol.ReconcileDiff{Kind: protocol.DiffMissingPlatform, Msgid: loc.Msgid, SetlID: loc.SetlID, Local: &loc})
	}
	slices.SortFunc(diffs, func(a, b protocol.ReconcileDiff) int { return cmp.Compare(a.Msgid, b.Msgid) })
	return protocol.ReconcileDetailOutput{Diffs: diffs}, nil
}

// checkItem refuses an item that cannot be one of the institution's
// settlements: a malformed msgid, another institution's, or a negative
// amount (only active settlements are listed, never their cancellations).
func (c *call) checkItem(it protocol.ReconcileItem) error {
	if protocol.ValidMsgid(it.Msgid) != nil || !strings.HasPrefix(it.Msgid, c.inst.Code) {
		return fmt.Errorf("msgid %q is not a msgid of this institution", it.Msgid)
	}
	for _, a := range []money.Decimal{it.MedfeeSumamt, it.FundPaySumamt, it.AcctPay, it.PsnCashPay} {
		if a < 0 {
			return fmt.Errorf("msgid %s: negative amount %s", it.Msgid, a.Fen())
		}
	}
	return nil
}

func reconcileItem(s settlement) protocol.ReconcileItem {
	return protocol.ReconcileItem{
		Msgid: s.Msgid, SetlID: s.SetlID,
		MedfeeSumamt: money.Decimal(s.Total), FundPaySumamt: money.Decimal(s.Fund),
		AcctPay: money.Decimal(s.AcctPay), PsnCashPay: money.Decimal(s.CashPay),
	}
}

// sameAmounts compares the four amounts of a split. The setl_id is not
// compared: a terminal that never got the 2207 answer knows only the
// msgid.
func sameAmounts(a, b protocol.ReconcileItem) bool {
	return a.MedfeeSumamt == b.MedfeeSumamt && a.FundPaySumamt == b.FundPaySumamt &&
		a.AcctPay == b.AcctPay && a.PsnCashPay == b.PsnCashPay
}
