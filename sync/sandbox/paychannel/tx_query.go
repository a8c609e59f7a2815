package paychannel

import (
	"bytes"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// query answers what became of an order (txnType 00, the order's orderId
// and txnTime): respCode 00 with the order's own outcome in origRespCode,
// or 34 when the channel never had that order.
func (c *Channel) query(f acp.Fields) (acp.Fields, error) {
	if bad := checkOrderFields(f, false); bad != nil {
		return answerTo(f, bad), nil
	}
	var ans acp.Fields
	err := c.db.View(func(tx *bolt.Tx) error {
		rec, err := state{tx}.order(f[acp.FMerID], f[acp.FOrderID])
		if err != nil {
			return err
		}
		if rec == nil || rec.TxnTime != f[acp.FTxnTime] {
			ans = answerTo(f, refuse(acp.CodeNoSuchTxn))
			return nil
		}
		ans = answerTo(f, refuse(acp.CodeOK))
		ans[acp.FOrigRespCode], ans[acp.FOrigRespMsg] = rec.Code, rec.Msg
		if rec.booked() {
			ans[acp.FQueryID], ans[acp.FTxnAmt] = rec.QueryID, fenText(rec.Amount)
			ans[acp.FSettleDate] = rec.SettleDay[5:7] + rec.SettleDay[8:10]
			ans[acp.FOrigQryID] = rec.OrigQryID
		}
		return nil
	})
	return ans, err
}

// statement answers a day's file (txnType 76): every payment, cancel and
// refund the merchant booked on the clearing day settleDate names (MMdd:
// the latest such day not after today). Today's file is made on demand
// and holds what was booked so far; a day the calendar lacks (29 February
// of a common year) has no file (98).
func (c *Channel) statement(f acp.Fields) (acp.Fields, error) {
	sd := f[acp.FSettleDate]
	if len(sd) != 4 || !acp.Digits(sd) || f[acp.FTxnSubType] != acp.SubStatement || f[acp.FFileType] != acp.FileTypeGeneral {
		return answerTo(f, refusef(acp.CodeFormat, "settleDate, txnSubType or fileType")), nil
	}
	now := c.clock.Now().In(acp.CST)
	day, ok := statementDay(sd, now)
	if !ok {
		return answerTo(f, refuse(acp.CodeNoFile)), nil
	}
	var recs []acp.Record
	var booked []time.Time
	err := c.db.View(func(tx *bolt.Tx) error {
		s := state{tx}
		prefix := []byte(acp.Day(day) + "/")
		cur := tx.Bucket(bucketDays).Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			o, err := s.orderByQueryID(string(k[len(prefix):]))
			if err != nil {
				return err
			}
			if o == nil || o.MerID != f[acp.FMerID] {
				continue
			}
			recs = append(recs, acp.Record{
				TraceNo: o.QueryID[len(o.QueryID)-6:], TxnTime: o.TxnTime[4:], AccNo: o.Masked, TxnAmt: o.Amount,
				QueryID: o.QueryID, OrderID: o.OrderID, TxnType: o.TxnType, TxnSubType: o.TxnSub, BizType: o.BizType,
				OrigQryID: o.OrigQryID, MerID: o.MerID,
			})
			booked = append(booked, o.Booked)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return booked[idx[i]].Before(booked[idx[j]]) })
	sorted := make([]acp.Record, len(recs))
	for i, j := range idx {
		sorted[i] = recs[j]
	}
	zm, err := acp.EncodeRecords(sorted)
	if err != nil {
		return nil, err
	}
	yymmdd := day.Format("060102")
	name, ename := acp.StatementFileName(yymmdd, f[acp.FMerID], false), acp.StatementFileName(yymmdd, f[acp.FMerID], true)
	content, err := acp.PackFiles(map[string][]byte{name: zm, ename: nil}, []string{name, ename})
	if err != nil {
		return nil, err
	}
	ans := answerTo(f, refuse(acp.CodeOK))
	ans[acp.FSettleDate], ans[acp.FFileType] = sd, acp.FileTypeGeneral
	ans[acp.FFileName], ans[acp.FFileContent] = "INN"+yymmdd+"88_"+f[acp.FMerID]+".zip", content
	return ans, nil
}

// statementDay is the latest day not after today whose MMdd is sd.
func statementDay(sd string, today time.Time) (time.Time, bool) {
	for _, y := range []int{today.Year(), today.Year() - 1} {
		t, err := time.ParseInLocation("20060102", itoa(y)+sd, acp.CST)
		if err != nil || t.Format("0102") != sd {
			continue
		}
		if !t.After(today) {
			return t, true
		}
	}
	return time.Time{}, false
}
