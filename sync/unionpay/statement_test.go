package unionpay

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

func statementRig(t *testing.T, recs []acp.Record, code string) *rig {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, n int, req acp.Fields) {
		if req[acp.FTxnType] != "76" || req[acp.FFileType] != "00" {
			t.Errorf("statement request %v", req)
		}
		if code != "00" {
			r.reply(w, req, acp.FRespCode, code, acp.FRespMsg, "文件不存在")
			return
		}
		zm, err := acp.EncodeRecords(recs)
		if err != nil {
			t.Fatal(err)
		}
		name := acp.StatementFileName("26"+req[acp.FSettleDate], testMerID, false)
		ename := acp.StatementFileName("26"+req[acp.FSettleDate], testMerID, true)
		content, err := acp.PackFiles(map[string][]byte{name: zm, ename: nil}, []string{name, ename})
		if err != nil {
			t.Fatal(err)
		}
		r.reply(w, req, acp.FRespCode, "00", acp.FFileName, name+".zip", acp.FFileContent, content, acp.FSettleDate, req[acp.FSettleDate])
	})
	return r
}

func TestStatementDecodesTheDaysFile(t *testing.T) {
	recs := []acp.Record{
		{TxnTime: "0101093000", TxnAmt: 1800, QueryID: "Q1", OrderID: "MT2026010100001", TxnType: "01", MerID: testMerID},
		{TxnTime: "1231235959", TxnAmt: 500, QueryID: "Q2", OrderID: "MT2025123100001", TxnType: "04", OrigQryID: "Q0", MerID: testMerID},
		{TxnTime: "0101100000", TxnAmt: 1800, QueryID: "Q3", OrderID: "MT2026010100002", TxnType: "31", OrigQryID: "Q1", MerID: testMerID},
	}
	r := statementRig(t, recs, "00")
	day := time.Date(2026, 1, 1, 12, 0, 0, 0, acp.CST)
	got, err := r.client.Statement(ctx(t), day)
	if err != nil {
		t.Fatal(err)
	}
	want := []agent.StatementEntry{
		{Kind: agent.EntryPayment, OrderID: "MT2026010100001", QueryID: "Q1", Amount: 1800, TxnTime: time.Date(2026, 1, 1, 9, 30, 0, 0, acp.CST)},
		{Kind: agent.EntryRefund, OrderID: "MT2025123100001", QueryID: "Q2", Amount: 500, TxnTime: time.Date(2025, 12, 31, 23, 59, 59, 0, acp.CST)},
		{Kind: agent.EntryCancel, OrderID: "MT2026010100002", QueryID: "Q3", Amount: 1800, TxnTime: time.Date(2026, 1, 1, 10, 0, 0, 0, acp.CST)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	for i := range want {
		if got[i].Kind != want[i].Kind || got[i].OrderID != want[i].OrderID || got[i].QueryID != want[i].QueryID ||
			got[i].Amount != want[i].Amount || !got[i].TxnTime.Equal(want[i].TxnTime) {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if sd := r.requests()[0][acp.FSettleDate]; sd != "0101" {
		t.Errorf("settleDate %q", sd)
	}
}

func TestStatementRefusals(t *testing.T) {
	day := time.Date(2026, 3, 10, 12, 0, 0, 0, acp.CST)
	if _, err := statementRig(t, nil, "98").client.Statement(ctx(t), day); !errors.Is(err, ErrNoStatement) {
		t.Errorf("98: %v, want ErrNoStatement", err)
	}
	if got, err := statementRig(t, nil, "00").client.Statement(ctx(t), day); err != nil || len(got) != 0 {
		t.Errorf("an empty day: %v %v", got, err)
	}
	other := []acp.Record{{TxnTime: "0310093000", TxnAmt: 1, QueryID: "Q", OrderID: "MT20260310", TxnType: "02", MerID: testMerID}}
	if _, err := statementRig(t, other, "00").client.Statement(ctx(t), day); !errors.Is(err, ErrMalformed) {
		t.Errorf("a transaction type medterm never sends: %v", err)
	}
	foreign := []acp.Record{{TxnTime: "0310093000", TxnAmt: 1, QueryID: "Q", OrderID: "MT20260310", TxnType: "01", MerID: "898440148169999"}}
	if _, err := statementRig(t, foreign, "00").client.Statement(ctx(t), day); !errors.Is(err, ErrMalformed) {
		t.Errorf("another merchant's line: %v", err)
	}
}
