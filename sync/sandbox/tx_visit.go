package sandbox

import (
	"fmt"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

// 2201: an outpatient visit of an insured person.
func register(c *call, in *protocol.RegisterInput) (any, error) {
	d := in.Data
	p, ok := c.p.data.ByPsnNo(d.PsnNo)
	if !ok {
		return nil, refuse(protocol.CodeNotFound, "unknown psn_no")
	}
	if p.PsnInsuStas != "1" {
		return nil, refuse(protocol.CodeNotInsured, "the person's insurance is not active (psn_insu_stas %s)", p.PsnInsuStas)
	}
	if d.Insutype != p.Insutype {
		return nil, refuse(protocol.CodeBadRequest, "insutype %q is not the person's (%s)", d.Insutype, p.Insutype)
	}
	if err := checkCert(p, d.MdtrtCertType, d.MdtrtCertNo); err != nil {
		return nil, err
	}
	seq, err := c.tx.Bucket(bucketVisits).NextSequence()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	v := visit{
		MdtrtID: fmt.Sprintf("%s%s%010d", c.inst.Region, c.now.In(protocol.CST).Format("20060102"), seq),
		PsnNo:   p.PsnNo, Insutype: p.Insutype, Institution: c.inst.Code,
		Begntime: d.Begntime, IptOtpNo: d.IptOtpNo, Created: c.now,
	}
	if err := putJSON(c.tx, bucketVisits, []byte(v.MdtrtID), &v); err != nil {
		return nil, err
	}
	// caty, the doctor and the department are accepted and kept by a real
	// platform for its records; the sandbox uses none of them.
	return protocol.RegisterOutput{Data: protocol.RegisterResult{MdtrtID: v.MdtrtID, PsnNo: v.PsnNo, IptOtpNo: v.IptOtpNo}}, nil
}

// checkCert refuses a credential that names someone else. An empty one is
// accepted: the visit is tied to psn_no.
func checkCert(p *personas.Person, certType, certNo string) error {
	if certNo == "" {
		return nil
	}
	switch certType {
	case protocol.CertIDNo:
		if certNo == p.Certno {
			return nil
		}
	case protocol.CertSSCard:
		if p.Card != nil && certNo == p.Card.CardNo {
			return nil
		}
	default:
		return nil // opaque credentials cannot be compared here
	}
	return refuse(protocol.CodeBadRequest, "mdtrt_cert_no does not belong to psn_no")
}

// 2204: fee items, checked all before any is stored, each classed by the
// catalogue (not by the HIS) and split by its class.
func uploadFees(c *call, in *protocol.UploadFeesInput) (any, error) {
	if len(in.Feedetail) == 0 {
		return nil, refuse(protocol.CodeBadRequest, "no fee items")
	}
	batches := map[string]*batch{}
	var order []string
	seen := map[string]bool{}
	out := protocol.UploadFeesOutput{Result: make([]protocol.FeeResult, 0, len(in.Feedetail))}
	for i, f := range in.Feedetail {
		item, cat, err := c.checkFee(i, f, seen)
		if err != nil {
			return nil, err
		}
		key := string(batchKey(f.MdtrtID, f.ChrgBchno))
		b, ok := batches[key]
		if !ok {
			b = &batch{MdtrtID: f.MdtrtID, ChrgBchno: f.ChrgBchno}
			if _, err := getJSON(c.tx, bucketBatches, []byte(key), b); err != nil {
				return nil, err
			}
			if b.SetlID != "" {
				return nil, refuse(protocol.CodeBadRequest, "batch %s is already settled (setl_id %s); cancel it first", f.ChrgBchno, b.SetlID)
			}
			batches[key] = b
			order = append(order, key)
		}
		b.put(item)
		out.Result = append(out.Result, feeResult(f, item, cat, c.p.rules.ClassBSelfPct))
	}
	for _, key := range order {
		if err := putJSON(c.tx, bucketBatches, []byte(key), batches[key]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func feeResult(f protocol.FeeDetail, item feeItem, cat CatalogueItem, classBPct int64) protocol.FeeResult {
	r := protocol.FeeResult{
		FeedetlSn: f.FeedetlSn, DetItemFeeSumamt: protocol.Amount(item.Total),
		Cnt: f.Cnt, Pric: f.Pric, PricUplmtAmt: protocol.Pric(cat.PriceCap),
		FulamtOwnpayAmt: protocol.Amount(item.FullOwnPay), OverlmtAmt: protocol.Amount(item.Overlimit),
		PreselfpayAmt: protocol.Amount(item.PreSelfPay), InscpScpAmt: protocol.Amount(item.Eligible),
		ChrgitmLv: item.Class, MedChrgitmType: cat.Kind,
		BasMednFlag: "0", HiNegoDrugFlag: "0", ChldMedcFlag: "0", ListSpItemFlag: "0", LmtUsedFlag: "0", DrtReimFlag: "0",
	}
	switch item.Class {
	case protocol.ClassB:
		r.SelfpayProp = protocol.Ratio(classBPct * 100)
	case protocol.ClassC:
		r.SelfpayProp = 10_000
	}
	return r
}

// checkFee validates one item: its visit, its person, amount = cnt × pric
// rounded half up to the fen, and splits it by the catalogue's class.
func (c *call) checkFee(i int, f protocol.FeeDetail, seen map[string]bool) (feeItem, CatalogueItem, error) {
	bad := func(format string, args ...any) error {
		return refuse(protocol.CodeBadRequest, "fee item %d (%s): %s", i+1, f.FeedetlSn, fmt.Sprintf(format, args...))
	}
	switch {
	case f.FeedetlSn == "":
		return feeItem{}, CatalogueItem{}, bad("no feedetl_sn")
	case seen[f.MdtrtID+"\x00"+f.FeedetlSn]:
		return feeItem{}, CatalogueItem{}, bad("feedetl_sn listed twice")
	case f.ChrgBchno == "":
		return feeItem{}, CatalogueItem{}, bad("no chrg_bchno")
	}
	seen[f.MdtrtID+"\x00"+f.FeedetlSn] = true
	var v visit
	found, err := getJSON(c.tx, bucketVisits, []byte(f.MdtrtID), &v)
	if err != nil {
		return feeItem{}, CatalogueItem{}, err
	}
	if !found || v.Institution != c.inst.Code || v.Cancelled {
		return feeItem{}, CatalogueItem{}, refuse(protocol.CodeNotFound, "fee item %d (%s): unknown mdtrt_id", i+1, f.FeedetlSn)
	}
	if f.PsnNo != v.PsnNo {
		return feeItem{}, CatalogueItem{}, bad("psn_no is not the visit's")
	}
	if f.MedListCodg == "" {
		return feeItem{}, CatalogueItem{}, bad("no med_list_codg")
	}
	cnt, pric, total := f.Cnt.Quantity(), f.Pric.Price(), f.DetItemFeeSumamt.Fen()
	if cnt <= 0 || pric <= 0 {
		return feeItem{}, CatalogueItem{}, bad("cnt and pric must be positive")
	}
	amount := money.LineAmount(cnt, pric)
	if amount > money.Max {
		return feeItem{}, CatalogueItem{}, bad("cnt × pric is over the largest amount")
	}
	if amount != total {
		return feeItem{}, CatalogueItem{}, bad("det_item_fee_sumamt %s is not cnt %s × pric %s = %s", total, cnt, pric, amount)
	}
	cat, _ := classOf(f.MedListCodg, f.ChrgitmLv)
	var over money.Fen
	if cat.PriceCap > 0 && pric > cat.PriceCap {
		over = amount - money.LineAmount(cnt, cat.PriceCap)
	}
	split, err := c.p.rules.SplitItemOver(cat.Class, total, over)
	if err != nil {
		return feeItem{}, CatalogueItem{}, bad("%v", err)
	}
	return feeItem{FeedetlSn: f.FeedetlSn, MedListCodg: f.MedListCodg, Class: cat.Class, Cnt: cnt, Pric: pric, Item: split}, cat, nil
}

// put adds an item, replacing an earlier upload of the same feedetl_sn.
func (b *batch) put(it feeItem) {
	for i := range b.Items {
		if b.Items[i].FeedetlSn == it.FeedetlSn {
			b.Items[i] = it
			return
		}
	}
	b.Items = append(b.Items, it)
}

// 2205: delete a visit's unsettled fee items, of one batch or (chrg_bchno
// 0000) of all. A settled batch cannot be deleted: cancel it first.
func feesCancel(c *call, in *protocol.FeesCancelInput) (any, error) {
	d := in.Data
	v, err := c.visit(d.MdtrtID, d.PsnNo)
	if err != nil {
		return nil, err
	}
	keys, err := c.batchKeys(v.MdtrtID, d.ChrgBchno)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		var b batch
		if _, err := getJSON(c.tx, bucketBatches, k, &b); err != nil {
			return nil, err
		}
		if b.SetlID != "" {
			if d.ChrgBchno == protocol.AllBatches {
				continue
			}
			return nil, refuse(protocol.CodeBadRequest, "batch %s is settled (setl_id %s): cancel the settlement first", b.ChrgBchno, b.SetlID)
		}
		if err := c.tx.Bucket(bucketBatches).Delete(k); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrState, err)
		}
	}
	return nil, nil
}

// 2202: cancel a registration that has no settled batch.
func registerCancel(c *call, in *protocol.RegisterCancelInput) (any, error) {
	d := in.Data
	v, err := c.visit(d.MdtrtID, d.PsnNo)
	if err != nil {
		return nil, err
	}
	keys, err := c.batchKeys(v.MdtrtID, protocol.AllBatches)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		var b batch
		if _, err := getJSON(c.tx, bucketBatches, k, &b); err != nil {
			return nil, err
		}
		if b.SetlID != "" {
			return nil, refuse(protocol.CodeBadRequest, "the visit has a settled batch (%s): cancel the settlement first", b.ChrgBchno)
		}
	}
	v.Cancelled = true
	return nil, putJSON(c.tx, bucketVisits, []byte(v.MdtrtID), v)
}

// visit reads one of the institution's open visits of psnNo.
func (c *call) visit(mdtrtID, psnNo string) (*visit, error) {
	var v visit
	found, err := getJSON(c.tx, bucketVisits, []byte(mdtrtID), &v)
	if err != nil {
		return nil, err
	}
	if !found || v.Institution != c.inst.Code || v.Cancelled {
		return nil, refuse(protocol.CodeNotFound, "unknown mdtrt_id")
	}
	if v.PsnNo != psnNo {
		return nil, refuse(protocol.CodeBadRequest, "psn_no is not the visit's")
	}
	return &v, nil
}

// batchKeys lists the keys of a visit's batches: one, or all for 0000.
func (c *call) batchKeys(mdtrtID, chrgBchno string) ([][]byte, error) {
	if chrgBchno != protocol.AllBatches {
		k := batchKey(mdtrtID, chrgBchno)
		if c.tx.Bucket(bucketBatches).Get(k) == nil {
			return nil, refuse(protocol.CodeNotFound, "no fee items uploaded for chrg_bchno %q", chrgBchno)
		}
		return [][]byte{k}, nil
	}
	prefix := []byte(mdtrtID + "\x00")
	var keys [][]byte
	cur := c.tx.Bucket(bucketBatches).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = cur.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	return keys, nil
}

// person reads a person's mutable state.
func (c *call) person(psnNo string) (*personState, error) {
	var s personState
	found, err := getJSON(c.tx, bucketPeople, []byte(psnNo), &s)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: no state for person %s", ErrState, psnNo)
	}
	if s.Years == nil {
		s.Years = map[string]policy.YearUsage{}
	}
	if s.Days == nil {
		s.Days = map[string]money.Fen{}
	}
	return &s, nil
}
