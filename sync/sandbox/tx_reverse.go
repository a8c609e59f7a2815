package sandbox

import (
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// 2601: undo a 2207 or 2208 by its msgid, whatever became of it. A msgid
// never processed gets a tombstone, so that the original arriving late is
// refused and never booked; the not-found refusal ("原交易不存在") is as
// final as a reversal.
func reverse(c *call, in *protocol.ReverseInput) (any, error) {
	d := in.Data
	if err := protocol.ValidMsgid(d.Omsgid); err != nil || !strings.HasPrefix(d.Omsgid, c.inst.Code) {
		return nil, refuse(protocol.CodeBadRequest, "omsgid is not a msgid of this institution")
	}
	if d.Omsgid == c.req.Msgid {
		return nil, refuse(protocol.CodeBadRequest, "a reversal cannot name itself")
	}
	if d.Oinfno != protocol.Settle.Infno && d.Oinfno != protocol.CancelSettle.Infno {
		return nil, refuse(protocol.CodeBadRequest, "oinfno %q: only 2207 and 2208 are reversed", d.Oinfno)
	}
	var rec msgidRecord
	found, err := getJSON(c.tx, bucketMsgids, []byte(d.Omsgid), &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		t := tombstone{Time: c.now, ByMsgid: c.req.Msgid, PsnNo: d.PsnNo, OrigInfno: d.Oinfno}
		if err := putJSON(c.tx, bucketTombstones, []byte(d.Omsgid), &t); err != nil {
			return nil, err
		}
		return nil, &refusal{code: protocol.CodeNotFound, msg: "原交易不存在 (omsgid was never processed; it will be refused if it arrives)", keep: true}
	}
	if rec.Infno != d.Oinfno {
		return nil, refuse(protocol.CodeBadRequest, "omsgid was a %s, not a %s", rec.Infno, d.Oinfno)
	}
	// A success carries no output: 2601's table defines none.
	if rec.SetlID == "" {
		return nil, nil // the original was refused: nothing was booked
	}
	s, err := c.settlement(rec.SetlID)
	if err != nil {
		return nil, err
	}
	if d.PsnNo != s.PsnNo {
		return nil, refuse(protocol.CodeBadRequest, "psn_no is not the settlement's")
	}
	if rec.Infno == protocol.Settle.Infno {
		err = c.reverseSettle(s)
	} else {
		err = c.reverseCancel(s, d.Omsgid)
	}
	if err != nil {
		return nil, err
	}
	return nil, nil
}

// reverseSettle undoes a booking, as a cancel would. One already
// cancelled has had its effects returned; it is only marked.
func (c *call) reverseSettle(s *settlement) error {
	if s.Reversed {
		return nil
	}
	if !s.Cancelled {
		if _, err := c.undo(s); err != nil {
			return err
		}
	}
	s.Reversed, s.ReverseMsgid = true, c.req.Msgid
	return putJSON(c.tx, bucketSettlements, []byte(s.SetlID), s)
}

// reverseCancel re-books a cancelled settlement exactly as it was: the
// same consumption, the same debit from the personal account. If the
// account can no longer cover it the reversal is refused, since the
// sandbox never half-books. A cancel already undone, or a settlement
// reversed meanwhile, leaves nothing to do.
func (c *call) reverseCancel(s *settlement, cancelMsgid string) error {
	if s.Reversed || !s.Cancelled || s.CancelMsgid != cancelMsgid {
		return nil
	}
	if err := c.markBatch(s, s.SetlID); err != nil {
		return err
	}
	patient, err := c.person(s.PsnNo)
	if err != nil {
		return err
	}
	patient.Years[s.Year] = patient.Years[s.Year].Add(s.Consumed)
	if patient.Account < s.AcctPay {
		return refuse(protocol.CodeInsufficientFunds, "re-booking settlement %s needs %s from the personal account, which no longer holds it", s.SetlID, s.AcctPay)
	}
	patient.Account -= s.AcctPay // the cash part is the payment channel's
	if err := c.savePeople(patient); err != nil {
		return err
	}
	s.Cancelled, s.CancelMsgid, s.CancelTime, s.CancelSetlID = false, "", time.Time{}, ""
	return putJSON(c.tx, bucketSettlements, []byte(s.SetlID), s)
}
