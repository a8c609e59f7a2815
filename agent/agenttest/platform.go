package agenttest

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Platform is a scriptable agent.Platform. By default it answers every
// transaction of the online workflow consistently (a 310 patient, 70% fund,
// self-pay paid from the personal account); Script overrides one infno.
// Every request is recorded.
type Platform struct {
	mu     sync.Mutex
	Script map[string]func(req agent.PlatformRequest) (json.RawMessage, error)
	Sent   []agent.PlatformRequest
}

var _ agent.Platform = (*Platform)(nil)

// Count returns how many requests with infno were sent.
func (p *Platform) Count(infno string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.Sent {
		if r.Infno == infno {
			n++
		}
	}
	return n
}

// Msgids returns the msgids sent for infno, in order.
func (p *Platform) Msgids(infno string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.Sent {
		if r.Infno == infno {
			out = append(out, r.Msgid)
		}
	}
	return out
}

func (p *Platform) Send(_ context.Context, req agent.PlatformRequest) (json.RawMessage, error) {
	p.mu.Lock()
	p.Sent = append(p.Sent, req)
	f := p.Script[req.Infno]
	p.mu.Unlock()
	if f != nil {
		return f(req)
	}
	return DefaultAnswer(req)
}

// DefaultAnswer is the consistent happy-path answer to req.
func DefaultAnswer(req agent.PlatformRequest) (json.RawMessage, error) {
	switch req.Infno {
	case protocol.PersonInfo.Infno:
		return json.Marshal(protocol.PersonInfoOutput{
			Baseinfo: protocol.BaseInfo{PsnNo: "P0001", Certno: "11010519491231002X", PsnName: "张三", Age: 400},
			Insuinfo: []protocol.InsuInfo{{Insutype: "310", Balc: protocol.Amount(money.CNY(500)), InsuplcAdmdvs: "441900", PsnInsuStas: "1"}},
			Payinfo:  protocol.PayInfo{Agreement: true, Sources: []protocol.PaySource{{Kind: protocol.SourceAccount}}},
		})
	case protocol.Register.Infno:
		return json.Marshal(protocol.RegisterOutput{Data: protocol.RegisterResult{MdtrtID: "MD0001"}})
	case protocol.UploadFees.Infno:
		var in protocol.UploadFeesInput
		_ = json.Unmarshal(req.Input, &in)
		out := protocol.UploadFeesOutput{}
		for _, f := range in.Feedetail {
			out.Result = append(out.Result, protocol.FeeResult{FeedetlSn: f.FeedetlSn, DetItemFeeSumamt: f.DetItemFeeSumamt, InscpScpAmt: f.DetItemFeeSumamt, ChrgitmLv: f.ChrgitmLv})
		}
		return json.Marshal(out)
	case protocol.PreSettle.Infno, protocol.Settle.Infno:
		var in protocol.SettleInput
		_ = json.Unmarshal(req.Input, &in)
		total := in.Data.MedfeeSumamt.Fen()
		fund := total.Percent(70)
		si := protocol.SetlInfo{SetlID: "S" + req.Msgid, MedfeeSumamt: in.Data.MedfeeSumamt, InscpScpAmt: in.Data.MedfeeSumamt,
			FundPaySumamt: protocol.Amount(fund), HifpPay: protocol.Amount(fund), AcctPay: protocol.Amount(total - fund)}
		pr := protocol.PayResult{Status: protocol.PayPaid, Source: protocol.SourceAccount, PayerPsnNo: "P0001"}
		if req.Infno == protocol.PreSettle.Infno {
			si.SetlID = ""
			return json.Marshal(protocol.PreSettleOutput{Setlinfo: si, Payplan: pr})
		}
		return json.Marshal(protocol.SettleOutput{Setlinfo: si, Payresult: pr})
	case protocol.CancelSettle.Infno:
		var in protocol.CancelInput
		_ = json.Unmarshal(req.Input, &in)
		return nil, &protocol.Error{Infno: req.Infno, Code: protocol.CodeNotFound, Message: "script a cancel answer"}
	}
	return nil, &protocol.Error{Infno: req.Infno, Code: protocol.CodeUnknownTx, Message: "not scripted"}
}
