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
// compares: a period of CST dates, an insurance type (empty: all), a
// clearing type and region (empty: any), whether refunds count, and a
// terminal (the old core's extension; empty: all of the institution's).
type scope struct {
	begin, end      string
	insutype        string
	clrType, optins string
	refunds         bool
	devNo           string
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

// stmtRecord is one line of the platform's side of a reconciliation: a
// settlement (forward) or, when refunds count, a cancellation (reverse,
// amounts negative), under its own setl_id and msgid.
type stmtRecord struct {
	setlID, mdtrtID, psnNo, msgid string
	total, fund, acct, cash       money.Fen
	refund                        bool
}

// records returns the platform's lines in the scope. Without refunds they
// are the settlements booked in the period that still count (neither
// cancelled nor reversed), as the old core compares them. With refunds
// (refd_setl_flag 1) they are every settlement booked in the period and
// not reversed, and a negative line for every cancellation made in it.
func (c *call) records(sc scope) ([]stmtRecord, error) {
	var out []stmtRecord
	err := c.tx.Bucket(bucketSettlements).ForEach(func(_, v []byte) error {
		var s settlement
		if err := unmarshalState(v, &s); err != nil {
			return err
		}
		if s.Institution != c.inst.Code || (sc.insutype != "" && s.Insutype != sc.insutype) ||
			(sc.devNo != "" && s.DevNo != sc.devNo) || (sc.clrType != "" && sc.clrType != "11") ||
			(sc.optins != "" && sc.optins != c.clearingRegion(&s)) || s.Reversed {
			return nil
		}
		in := func(date string) bool { return date >= sc.begin && date <= sc.end }
		fwd := stmtRecord{setlID: s.SetlID, mdtrtID: s.MdtrtID, psnNo: s.PsnNo, msgid: s.Msgid,
			total: s.Total, fund: s.Fund, acct: s.AcctPay, cash: s.CashPay}
		switch {
		case !sc.refunds:
			if s.active() && in(s.Date) {
				out = append(out, fwd)
			}
		default:
			if in(s.Date) {
				out = append(out, fwd)
			}
			if s.Cancelled && in(dateOf(s.CancelTime)) {
				out = append(out, stmtRecord{setlID: s.CancelSetlID, mdtrtID: s.MdtrtID, psnNo: s.PsnNo, msgid: s.CancelMsgid,
					total: -s.Total, fund: -s.Fund, acct: -s.AcctPay, cash: -s.CashPay, refund: true})
			}
		}
		return nil
	})
	return out, err
}

// 3201: compare the institution's totals for a period with the platform's
// (stmtinfo). 1 means the platform has more settlements, 2 the
// institution more, 3 the same number with other amounts.
func reconcile(c *call, in *protocol.ReconcileInput) (any, error) {
	d := in.Data
	sc, err := c.scope(d.StmtBegndate, d.StmtEnddate, d.Insutype, d.DevNo)
	if err != nil {
		return nil, err
	}
	sc.clrType, sc.optins, sc.refunds = d.ClrType, d.SetlOptins, d.RefdSetlFlag == "1"
	all, err := c.records(sc)
	if err != nil {
		return nil, err
	}
	var total, fund, acct money.Fen
	for _, r := range all {
		total, fund, acct = total+r.total, fund+r.fund, acct+r.acct
	}
	count := int64(len(all))
	figures := fmt.Sprintf("中心: %d 笔, 医疗费总额 %s, 基金支付 %s, 个人账户 %s", count, total, fund, acct)
	info := protocol.StmtInfo{SetlOptins: d.SetlOptins}
	switch {
	case count == d.FixmedinsSetlCnt && total == d.MedfeeSumamt.Fen() && fund == d.FundPaySumamt.Fen() && acct == d.AcctPay.Fen():
		info.StmtRslt, info.StmtRsltDscr = protocol.StmtBalanced, "对账平衡; "+figures
	case count > d.FixmedinsSetlCnt:
		info.StmtRslt, info.StmtRsltDscr = protocol.StmtPlatformMore, "中心多; "+figures
	case count < d.FixmedinsSetlCnt:
		info.StmtRslt, info.StmtRsltDscr = protocol.StmtInstitutionMore, "医药机构多; "+figures
	default:
		info.StmtRslt, info.StmtRsltDscr = protocol.StmtMismatch, "数据不一致; "+figures
	}
	return protocol.ReconcileOutput{Stmtinfo: info}, nil
}

// 3202: the detail named by an uploaded file (9101), compared line by
// line with the platform's; the verdict is a file to download with 9102.
// Without a file_qury_no, the old core's inline detail is answered inline
// (SANDBOX-ONLY, TEMPORARY).
func reconcileDetail(c *call, in *protocol.ReconcileDetailInput) (any, error) {
	d := in.Data
	if d.FileQuryNo == "" {
		return c.inlineDetail(in)
	}
	sc, err := c.scope(d.StmtBegndate, d.StmtEnddate, "", "")
	if err != nil {
		return nil, err
	}
	sc.clrType, sc.optins, sc.refunds = d.ClrType, d.SetlOptins, d.RefdSetlFlag == "1"
	f, err := c.file(d.FileQuryNo)
	if err != nil {
		return nil, err
	}
	rows, err := protocol.ReadStmtRows(f.Data)
	if err != nil {
		return nil, refuse(protocol.CodeBadRequest, "file %s: %v", d.FileQuryNo, err)
	}
	var total, fund money.Fen
	for _, r := range rows {
		total, fund = total+r.MedfeeSumamt, fund+r.FundPaySumamt
	}
	if int64(len(rows)) != d.FixmedinsSetlCnt || total != d.MedfeeSumamt.Fen() || fund != d.FundPaySumamt.Fen() {
		return nil, refuse(protocol.CodeBalanceMismatch, "the file's %d lines (medfee_sumamt %s, fund_pay_sumamt %s) are not the totals sent (%d, %s, %s)",
			len(rows), total, fund, d.FixmedinsSetlCnt, d.MedfeeSumamt.Fen(), d.FundPaySumamt.Fen())
	}
	platform, err := c.records(sc)
	if err != nil {
		return nil, err
	}
	results := compareDetail(rows, platform)
	data, err := protocol.WriteStmtResults("result.txt", results)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	rec, err := c.storeFile("STMT_RESULT_"+strings.ReplaceAll(d.StmtBegndate, "-", "")+".zip", data)
	if err != nil {
		return nil, err
	}
	return protocol.ReconcileDetailOutput{Fileinfo: protocol.FileInfo{FileQuryNo: rec.No, Filename: rec.Name, DldEndtime: protocol.FormatInfTime(rec.Expires)}}, nil
}

// compareDetail matches the institution's lines with the platform's by
// setl_id and direction: 0 where they agree, 3 where the amounts differ,
// 1 for a line only the platform has (中心多), 2 for one only the
// institution has (医药机构多). Every line of either side is in the result.
func compareDetail(rows []protocol.StmtRow, platform []stmtRecord) []protocol.StmtResult {
	type key struct {
		setlID string
		refund bool
	}
	local := map[key]protocol.StmtRow{}
	var order []key
	for _, r := range rows {
		k := key{r.SetlID, r.RefdSetlFlag == "1"}
		if _, dup := local[k]; !dup {
			order = append(order, k)
		}
		local[k] = r
	}
	flag := func(refund bool) string {
		if refund {
			return "1"
		}
		return "0"
	}
	var out []protocol.StmtResult
	for _, p := range platform {
		k := key{p.setlID, p.refund}
		res := protocol.StmtResult{PsnNo: p.psnNo, MdtrtID: p.mdtrtID, SetlID: p.setlID, Msgid: p.msgid, RefdSetlFlag: flag(p.refund),
			MedfeeSumamt: p.total, FundPaySumamt: p.fund, AcctPay: p.acct, StmtRslt: protocol.StmtBalanced}
		l, listed := local[k]
		delete(local, k)
		switch {
		case !listed:
			res.StmtRslt, res.Memo = protocol.StmtPlatformMore, "中心多"
		case l.MedfeeSumamt != p.total || l.FundPaySumamt != p.fund || l.AcctPay != p.acct:
			res.StmtRslt = protocol.StmtMismatch
			res.Memo = fmt.Sprintf("数据不一致: 医药机构 %s/%s/%s", l.MedfeeSumamt, l.FundPaySumamt, l.AcctPay)
		}
		out = append(out, res)
	}
	for _, k := range order {
		l, left := local[k]
		if !left {
			continue
		}
		out = append(out, protocol.StmtResult{PsnNo: l.PsnNo, MdtrtID: l.MdtrtID, SetlID: l.SetlID, RefdSetlFlag: flag(k.refund),
			StmtRslt: protocol.StmtInstitutionMore, Memo: "医药机构多",
			MedfeeSumamt: l.MedfeeSumamt, FundPaySumamt: l.FundPaySumamt, AcctPay: l.AcctPay})
	}
	slices.SortStableFunc(out, func(a, b protocol.StmtResult) int { return cmp.Compare(a.StmtRslt, b.StmtRslt) })
	return out
}

// inlineDetail is the old core's 3202 (SANDBOX-ONLY, TEMPORARY): every
// difference between the caller's list of settlements and the platform's
// active ones in the same scope, matched by the 2207 msgid.
func (c *call) inlineDetail(in *protocol.ReconcileDetailInput) (any, error) {
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
	all, err := c.records(sc)
	if err != nil {
		return nil, err
	}
	diffs := []protocol.ReconcileDiff{}
	for _, r := range all {
		plat := protocol.ReconcileItem{Msgid: r.msgid, SetlID: r.setlID, MedfeeSumamt: protocol.Amount(r.total),
			FundPaySumamt: protocol.Amount(r.fund), AcctPay: protocol.Amount(r.acct), PsnCashPay: protocol.Amount(r.cash)}
		loc, listed := local[r.msgid]
		delete(local, r.msgid)
		switch {
		case !listed:
			diffs = append(diffs, protocol.ReconcileDiff{Kind: protocol.DiffMissingLocal, Msgid: r.msgid, SetlID: r.setlID, Platform: &plat})
		case !sameAmounts(plat, loc):
			diffs = append(diffs, protocol.ReconcileDiff{Kind: protocol.DiffAmountMismatch, Msgid: r.msgid, SetlID: r.setlID, Platform: &plat, Local: &loc})
		}
	}
	for _, loc := range local {
		diffs = append(diffs, protocol.ReconcileDiff{Kind: protocol.DiffMissingPlatform, Msgid: loc.Msgid, SetlID: loc.SetlID, Local: &loc})
	}
	slices.SortFunc(diffs, func(a, b protocol.ReconcileDiff) int { return cmp.Compare(a.Msgid, b.Msgid) })
	return inlineAnswer{Diffs: diffs}, nil
}

// inlineAnswer is the old core's 3202 output: its diffs always listed,
// [] when there are none (SANDBOX-ONLY, TEMPORARY).
type inlineAnswer struct {
	Diffs []protocol.ReconcileDiff `json:"diffs"`
}

// checkItem refuses an item that cannot be one of the institution's
// settlements: a malformed msgid, another institution's, or a negative
// amount (only active settlements are listed, never their cancellations).
func (c *call) checkItem(it protocol.ReconcileItem) error {
	if protocol.ValidMsgid(it.Msgid) != nil || !strings.HasPrefix(it.Msgid, c.inst.Code) {
		return fmt.Errorf("msgid %q is not a msgid of this institution", it.Msgid)
	}
	for _, a := range []protocol.Amount{it.MedfeeSumamt, it.FundPaySumamt, it.AcctPay, it.PsnCashPay} {
		if a < 0 {
			return fmt.Errorf("msgid %s: negative amount %s", it.Msgid, a.Fen())
		}
	}
	return nil
}

// sameAmounts compares the four amounts of a split. The setl_id is not
// compared: a terminal that never got the 2207 answer knows only the
// msgid.
func sameAmounts(a, b protocol.ReconcileItem) bool {
	return a.MedfeeSumamt == b.MedfeeSumamt && a.FundPaySumamt == b.FundPaySumamt &&
		a.AcctPay == b.AcctPay && a.PsnCashPay == b.PsnCashPay
}
