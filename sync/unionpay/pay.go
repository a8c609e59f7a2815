package unionpay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Pay sends a token consume (txnType 01, txnSubType 01, bizType 000902).
// The agreement and the patient's confirmation travel in the reserved bag,
// medterm's extension: a real token consume would carry the patient's
// password or SMS code in customerInfo instead of a confirmation flag.
func (c *Client) Pay(ctx context.Context, o agent.PayOrder) (agent.PayOutcome, error) {
	const op = "pay"
	if err := checkOrder(op, o.OrderRef, o.Amount); err != nil {
		return agent.PayOutcome{}, err
	}
	if o.AgreementID == "" || o.Source.Token == "" {
		return agent.PayOutcome{}, fmt.Errorf("%s %s: %w: no agreement or no source token", op, o.OrderID, agent.ErrInvalid)
	}
	if strings.ContainsAny(o.Settlement, "&={}") {
		return agent.PayOutcome{}, fmt.Errorf("%s %s: %w: settlement id %q holds '&', '=' or a brace", op, o.OrderID, agent.ErrInvalid, o.Settlement)
	}
	tok, err := acp.Bag(acp.BagTrID, c.cfg.TokenRequestor, acp.BagToken, o.Source.Token)
	if err != nil {
		return agent.PayOutcome{}, fmt.Errorf("%s %s: %w: source token: %v", op, o.OrderID, agent.ErrInvalid, err)
	}
	confirmed := ""
	if o.Confirmed {
		confirmed = "1"
	}
	res, err := acp.Bag(acp.BagAgreementID, o.AgreementID, acp.BagConfirmed, confirmed)
	if err != nil {
		return agent.PayOutcome{}, fmt.Errorf("%s %s: %w: agreement id: %v", op, o.OrderID, agent.ErrInvalid, err)
	}
	req := acp.Fields{
		acp.FTxnType: acp.TxnConsume, acp.FTxnSubType: acp.SubConsume, acp.FBizType: acp.BizToken,
		acp.FChannelType: acp.ChannelInternet, acp.FCurrencyCode: acp.CurrencyCNY,
		acp.FOrderID: o.OrderID, acp.FTxnTime: acp.FormatTime(o.TxnTime), acp.FTxnAmt: fen(o.Amount),
		acp.FTokenPayData: tok, acp.FReserved: res, acp.FReqReserved: o.Settlement,
	}
	return c.book(ctx, op, req, o.Amount)
}

// CancelPayment sends a consume undo (txnType 31): a new order that names
// the original by its queryId, for the whole amount, on its clearing day.
func (c *Client) CancelPayment(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	return c.reverse(ctx, "cancel", acp.TxnCancel, acp.BizCancel, r)
}

// RefundPayment sends a refund (txnType 04), partial or whole. Its bizType
// is the consume's, as refunds carry the original's business type.
func (c *Client) RefundPayment(ctx context.Context, r agent.PayReversal) (agent.PayOutcome, error) {
	return c.reverse(ctx, "refund", acp.TxnRefund, acp.BizToken, r)
}

func (c *Client) reverse(ctx context.Context, op, txnType, bizType string, r agent.PayReversal) (agent.PayOutcome, error) {
	if err := checkOrder(op, r.OrderRef, r.Amount); err != nil {
		return agent.PayOutcome{}, err
	}
	if r.OriginalQID == "" || !alnum(r.OriginalQID) {
		return agent.PayOutcome{}, fmt.Errorf("%s %s: %w: the original's queryId %q", op, r.OrderID, agent.ErrInvalid, r.OriginalQID)
	}
	req := acp.Fields{
		acp.FTxnType: txnType, acp.FTxnSubType: acp.SubDefault, acp.FBizType: bizType,
		acp.FChannelType: acp.ChannelInternet, acp.FCurrencyCode: acp.CurrencyCNY,
		acp.FOrderID: r.OrderID, acp.FTxnTime: acp.FormatTime(r.TxnTime), acp.FTxnAmt: fen(r.Amount),
		acp.FOrigQryID: r.OriginalQID,
	}
	return c.book(ctx, op, req, r.Amount)
}

// book sends a request that moves money and reads its answer. Whatever is
// wrong with a received answer leaves the order in doubt: it may have been
// booked, and only a query (or the statement) can say.
func (c *Client) book(ctx context.Context, op string, req acp.Fields, amount money.Fen) (agent.PayOutcome, error) {
	ans, err := c.exchange(ctx, op, acp.PathBackTrans, req)
	if err != nil {
		if errors.Is(err, ErrBadSignature) {
			err = fmt.Errorf("%w (%w)", err, agent.ErrInDoubt)
		}
		return agent.PayOutcome{}, err
	}
	out, err := readBooking(ans, req, amount)
	if err != nil {
		return agent.PayOutcome{}, fmt.Errorf("%s %s: %w (%w)", op, req[acp.FOrderID], err, agent.ErrInDoubt)
	}
	c.log.Info("payment channel answered", "op", op, "order", req[acp.FOrderID], "resp_code", ans[acp.FRespCode], "status", out.Status)
	return out, nil
}

func readBooking(ans, req acp.Fields, amount money.Fen) (agent.PayOutcome, error) {
	if err := checkEcho(ans, req); err != nil {
		return agent.PayOutcome{}, err
	}
	code, msg := ans[acp.FRespCode], ans[acp.FRespMsg]
	switch {
	case code == acp.CodeDuplicate:
		return agent.PayOutcome{}, fmt.Errorf("%w: respCode 12, %s", agent.ErrIdempotencyConflict, msg)
	case acp.Success(code):
		if ans[acp.FQueryID] == "" {
			// Accepted, not booked yet: the rule in the package comment.
			return agent.PayOutcome{Status: agent.PayUnknown, Message: msg}, nil
		}
		if a := ans[acp.FTxnAmt]; a != "" && a != req[acp.FTxnAmt] {
			return agent.PayOutcome{}, fmt.Errorf("%w: txnAmt %s answered to %s", ErrMalformed, a, req[acp.FTxnAmt])
		}
		return agent.PayOutcome{Status: agent.PaySucceeded, QueryID: ans[acp.FQueryID], Amount: amount,
			Message: msg, SettleDate: ans[acp.FSettleDate]}, nil
	case acp.Pending(code):
		return agent.PayOutcome{Status: agent.PayUnknown, Message: msg}, nil
	}
	return agent.PayOutcome{Status: agent.PayRefused, Reason: reasonOf(code), Message: msg}, nil
}

// Query asks about an order (txnType 00, the order's own orderId and
// txnTime) and reads origRespCode. A query the channel refuses (respCode
// other than 00, 34 and the pending ones) is an error, never the order's
// refusal: it says nothing about the order.
func (c *Client) Query(ctx context.Context, o agent.OrderRef) (agent.PayOutcome, error) {
	const op = "query"
	if err := checkOrder(op, o, 1); err != nil {
		return agent.PayOutcome{}, err
	}
	req := acp.Fields{
		acp.FTxnType: acp.TxnQuery, acp.FTxnSubType: acp.SubDefault, acp.FBizType: acp.BizGeneral,
		acp.FChannelType: acp.ChannelInternet, acp.FOrderID: o.OrderID, acp.FTxnTime: acp.FormatTime(o.TxnTime),
	}
	ans, err := c.exchange(ctx, op, acp.PathQuery, req)
	if err != nil {
		return agent.PayOutcome{}, err
	}
	out, err := readQuery(ans, req)
	if err != nil {
		return agent.PayOutcome{}, fmt.Errorf("%s %s: %w", op, o.OrderID, err)
	}
	c.log.Info("payment channel answered", "op", op, "order", o.OrderID, "resp_code", ans[acp.FRespCode], "orig_resp_code", ans[acp.FOrigRespCode], "status", out.Status)
	return out, nil
}

func readQuery(ans, req acp.Fields) (agent.PayOutcome, error) {
	if err := checkEcho(ans, req); err != nil {
		return agent.PayOutcome{}, err
	}
	code, msg := ans[acp.FRespCode], ans[acp.FRespMsg]
	switch {
	case code == acp.CodeNoSuchTxn:
		return agent.PayOutcome{Status: agent.PayRefused, Reason: agent.ReasonNotFound, Message: msg}, nil
	case acp.Pending(code):
		return agent.PayOutcome{Status: agent.PayUnknown, Message: msg}, nil
	case code != acp.CodeOK:
		return agent.PayOutcome{}, &RespError{Op: "query", Code: code, Msg: msg}
	}
	orig, omsg := ans[acp.FOrigRespCode], ans[acp.FOrigRespMsg]
	switch {
	case orig == "":
		return agent.PayOutcome{}, fmt.Errorf("%w: respCode 00 without origRespCode", ErrMalformed)
	case acp.Success(orig):
		amt, err := parseFen(ans[acp.FTxnAmt])
		if err != nil || amt <= 0 || ans[acp.FQueryID] == "" {
			return agent.PayOutcome{}, fmt.Errorf("%w: a success without queryId or txnAmt (%q)", ErrMalformed, ans[acp.FTxnAmt])
		}
		return agent.PayOutcome{Status: agent.PaySucceeded, QueryID: ans[acp.FQueryID], Amount: amt,
			Message: omsg, SettleDate: ans[acp.FSettleDate]}, nil
	case acp.Pending(orig):
		return agent.PayOutcome{Status: agent.PayUnknown, Message: omsg}, nil
	case orig == acp.CodeDuplicate:
		// The order was refused as a duplicate of other content: that
		// refusal is the order's, and says nothing of the other content.
		return agent.PayOutcome{Status: agent.PayRefused, Reason: agent.ReasonOther, Message: omsg}, nil
	}
	return agent.PayOutcome{Status: agent.PayRefused, Reason: reasonOf(orig), Message: omsg}, nil
}

// checkEcho refuses an answer about another order or another merchant: a
// crossed or replayed answer must not settle this order.
func checkEcho(ans, req acp.Fields) error {
	for _, k := range []string{acp.FMerID, acp.FOrderID, acp.FTxnTime} {
		if req[k] != "" && ans[k] != req[k] {
			return fmt.Errorf("%w: %s %q answered to %q", ErrMalformed, k, ans[k], req[k])
		}
	}
	return nil
}

// checkOrder refuses what the channel would refuse anyway, before
// anything is sent: a bad orderId, no time, an amount out of range.
func checkOrder(op string, o agent.OrderRef, amount money.Fen) error {
	switch {
	case !acp.ValidOrderID(o.OrderID):
		return fmt.Errorf("%s: %w: orderId %q is not 8 to 32 letters and digits", op, agent.ErrInvalid, o.OrderID)
	case o.TxnTime.IsZero():
		return fmt.Errorf("%s %s: %w: no txnTime", op, o.OrderID, agent.ErrInvalid)
	case amount <= 0 || !amount.Valid():
		return fmt.Errorf("%s %s: %w: amount %s", op, o.OrderID, agent.ErrInvalid, amount)
	}
	return nil
}

func fen(f money.Fen) string { return strconv.FormatInt(int64(f), 10) }

// parseFen reads an integer fen amount as ACP writes it: digits only.
func parseFen(s string) (money.Fen, error) {
	if !acp.Digits(s) || len(s) > 12 {
		return 0, fmt.Errorf("%w: amount %q is not integer fen", ErrMalformed, s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || !money.Fen(v).Valid() {
		return 0, fmt.Errorf("%w: amount %q out of range", ErrMalformed, s)
	}
	return money.Fen(v), nil
}
