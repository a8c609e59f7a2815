package journal

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent"
)

// Schema v5: a settlement has two legs. Until v4 the insurance platform
// was taken to debit the patient's part itself, and a record held one
// "payment"; from v5 the insurance leg books the insured part and a
// payment leg ("pay") takes the patient's part through a payment channel.
// The v5 migration rewrites every record into the two-leg shape, keeping
// everything it held: the split's self-pay becomes the patient's part
// (cash), the payment becomes the payment leg (a part the platform's own
// payment extension took is marked as such, since its cancellation gave
// it back), and the msgids are named by step rather than by transaction
// code.

// v4Steps renames the msgids.
var v4Steps = map[string]string{
	"1101": agent.StepIdentify, "2201": agent.StepRegister, "2204": agent.StepUpload,
	"2206": agent.StepPreSettle, "2207": agent.StepSettle, "2208": agent.StepCancel, "2601": agent.StepReverse,
}

// v4Reasons renames why a part was pending.
var v4Reasons = map[string]string{
	"NO_AGREEMENT": agent.ReasonNoAgreement, "LIMIT_PER_TXN": agent.ReasonLimitPerPayment,
	"LIMIT_DAILY": agent.ReasonLimitDaily, "INSUFFICIENT_FUNDS": agent.ReasonInsufficient,
	"CONFIRM_REQUIRED": agent.ReasonConfirmRequired,
}

func twoLegs(j *Journal, btx *bolt.Tx) error {
	b := btx.Bucket(bucketSettlements)
	if b == nil {
		return nil
	}
	type change struct{ k, v []byte }
	var changes []change
	err := b.ForEach(func(k, v []byte) error {
		data, err := j.twoLegRecord(string(k), v)
		if err != nil {
			return err
		}
		changes = append(changes, change{append([]byte(nil), k...), data})
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range changes {
		if err := b.Put(c.k, c.v); err != nil {
			return err
		}
	}
	return nil
}

// twoLegRecord rewrites one stored record.
func (j *Journal) twoLegRecord(id string, data []byte) ([]byte, error) {
	data, err := decompress(data)
	if err != nil {
		return nil, fmt.Errorf("settlement %s: %w: %w", id, ErrCorrupt, err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("settlement %s: %w: %w", id, ErrCorrupt, err)
	}
	aad := []byte(id)
	if rec.Auth == 1 {
		aad = recordAAD(id, rec.Settlement)
	}
	personal, err := j.sealer.Open(rec.Personal, aad)
	if err != nil {
		return nil, fmt.Errorf("settlement %s: %w: %w", id, ErrCorrupt, err)
	}
	var pub map[string]any
	if err := json.Unmarshal(rec.Settlement, &pub); err != nil {
		return nil, fmt.Errorf("settlement %s: %w: %w", id, ErrCorrupt, err)
	}
	v4ToV5(pub)
	public, err := json.Marshal(pub)
	if err != nil {
		return nil, err
	}
	s := new(agent.Settlement)
	if err := json.Unmarshal(public, s); err != nil || s.ID != id {
		return nil, fmt.Errorf("settlement %s: %w: the record does not read in the two-leg shape: %v", id, ErrCorrupt, err)
	}
	if err := decodePersonal(personal, &s.Personal); err != nil {
		return nil, fmt.Errorf("settlement %s: personal fields: %w: %w", id, ErrCorrupt, err)
	}
	return j.encode(s, rec.Seq)
}

// v4ToV5 turns a v4 record's public fields into v5's, in place.
func v4ToV5(pub map[string]any) {
	renameSplit := func(sp any) {
		if m, ok := sp.(map[string]any); ok {
			if v, ok := m["self_pay_fen"]; ok {
				m["cash_fen"] = v
				delete(m, "self_pay_fen")
			}
		}
	}
	renameSplit(pub["split"])
	if r, ok := pub["refund"].(map[string]any); ok {
		renameSplit(r["split"])
		if r["state"] == string(agent.StateRefunded) {
			r["insured"] = true
		}
	}
	if ms, ok := pub["msgids"].(map[string]any); ok {
		out := map[string]any{}
		for k, v := range ms {
			if step, ok := v4Steps[k]; ok {
				k = step
			}
			out[k] = v
		}
		pub["msgids"] = out
	}
	cash := 0.0
	if sp, ok := pub["split"].(map[string]any); ok {
		cash, _ = sp["cash_fen"].(float64)
	}
	pay := map[string]any{"amount_fen": cash}
	if p, ok := pub["payment"].(map[string]any); ok {
		status, _ := p["status"].(string)
		source, _ := p["source"].(string)
		switch {
		case status == "paid" && (cash == 0 || source == "personal_account" || source == ""):
			pay["status"] = agent.PayNone
		case status == "paid":
			pay["status"], pay["legacy"] = agent.PayPaid, true
			pay["source"] = map[string]any{"kind": source, "masked": ""}
		case status == "refunded":
			pay["status"] = agent.PayReturned
			if cash == 0 {
				pay["status"] = agent.PayNone
			}
		case status == "pending" || status == "confirm_required":
			pay["status"] = status
			if r, ok := p["reason"].(string); ok {
				if v, ok := v4Reasons[r]; ok {
					r = v
				}
				pay["reason"] = r
			}
		}
		delete(pub, "payment")
	}
	pub["pay"] = pay
}
