package unionpay

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Statement fetches the day's statement file (txnType 76, fileType 00)
// and decodes it: every payment, cancel and refund the channel booked for
// the merchant on that clearing day. The file lists the merchant's
// transactions, which is the terminal's when the merchant id is the
// terminal's own. A day the channel has no file for is ErrNoStatement,
// never an empty list.
func (c *Client) Statement(ctx context.Context, day time.Time) ([]agent.StatementEntry, error) {
	const op = "statement"
	if day.IsZero() {
		return nil, fmt.Errorf("%s: %w: no day", op, agent.ErrInvalid)
	}
	req := acp.Fields{
		acp.FTxnType: acp.TxnStatement, acp.FTxnSubType: acp.SubStatement, acp.FBizType: acp.BizGeneral,
		acp.FChannelType: acp.ChannelInternet, acp.FTxnTime: acp.FormatTime(c.clk.Now()),
		acp.FSettleDate: acp.SettleDate(day), acp.FFileType: acp.FileTypeGeneral,
	}
	ans, err := c.exchange(ctx, op, acp.PathFile, req)
	if err != nil {
		return nil, err
	}
	if ans[acp.FMerID] != c.cfg.MerchantID {
		return nil, fmt.Errorf("%s: %w: merId %q answered", op, ErrMalformed, ans[acp.FMerID])
	}
	switch code := ans[acp.FRespCode]; code {
	case acp.CodeOK:
	case acp.CodeNoFile:
		return nil, fmt.Errorf("%s %s: %w: %s", op, acp.Day(day), ErrNoStatement, ans[acp.FRespMsg])
	default:
		return nil, &RespError{Op: op, Code: code, Msg: ans[acp.FRespMsg]}
	}
	entries, err := c.decodeStatement(ans[acp.FFileContent], day)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, acp.Day(day), err)
	}
	return entries, nil
}

func (c *Client) decodeStatement(content string, day time.Time) ([]agent.StatementEntry, error) {
	if content == "" {
		return nil, fmt.Errorf("%w: respCode 00 without fileContent", ErrMalformed)
	}
	files, err := acp.UnpackFiles(content)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var names []string
	for name := range files {
		if strings.Contains(name, "ZM_") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no general detail (ZM) file in the statement", ErrMalformed)
	}
	sort.Strings(names)
	var out []agent.StatementEntry
	for _, name := range names {
		recs, err := acp.ParseRecords(files[name])
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
		}
		for i, r := range recs {
			e, err := c.entry(r, day)
			if err != nil {
				return nil, fmt.Errorf("%s record %d: %w", name, i+1, err)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// entry reads one record. A type medterm never sends, or another
// merchant's line, is an error: reconciliation must not pass over it.
func (c *Client) entry(r acp.Record, day time.Time) (agent.StatementEntry, error) {
	e := agent.StatementEntry{OrderID: r.OrderID, QueryID: r.QueryID, Amount: r.TxnAmt}
	switch r.TxnType {
	case acp.TxnConsume:
		e.Kind = agent.EntryPayment
	case acp.TxnCancel:
		e.Kind = agent.EntryCancel
	case acp.TxnRefund:
		e.Kind = agent.EntryRefund
	default:
		return e, fmt.Errorf("%w: txnType %q", ErrMalformed, r.TxnType)
	}
	if r.MerID != "" && r.MerID != c.cfg.MerchantID {
		return e, fmt.Errorf("%w: merchant %q", ErrMalformed, r.MerID)
	}
	t, err := yearOf(r.TxnTime, day)
	if err != nil {
		return e, err
	}
	e.TxnTime = t
	return e, nil
}

// yearOf completes a record's MMddHHmmss with the year that puts it
// nearest the statement's day: a transaction sent on 31 December is on
// the statement of 1 January.
func yearOf(mmddhhmmss string, day time.Time) (time.Time, error) {
	d := day.In(acp.CST)
	var best time.Time
	for _, y := range []int{d.Year() - 1, d.Year(), d.Year() + 1} {
		t, err := time.ParseInLocation(acp.TimeLayout, strconv.Itoa(y)+mmddhhmmss, acp.CST)
		if err != nil || t.Format("0102150405") != mmddhhmmss {
			continue // 29 February of a common year
		}
		if best.IsZero() || absDur(t.Sub(d)) < absDur(best.Sub(d)) {
			best = t
		}
	}
	if best.IsZero() {
		return best, fmt.Errorf("%w: txnTime %q", ErrMalformed, mmddhhmmss)
	}
	return best, nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
