package insurance_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/insurance"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/transport"
)

func TestRefusalKindsAreTheWiresOwn(t *testing.T) {
	for wire, core := range map[string]string{
		protocol.KindRefused: agent.RefusedProcessed, protocol.KindSignIn: agent.RefusedSignIn, protocol.KindDoor: agent.RefusedAtDoor,
		protocol.KindNotFound: agent.RefusedNotFound, protocol.KindDuplicate: agent.RefusedDuplicate,
	} {
		if wire != core {
			t.Errorf("wire kind %q is the core's %q", wire, core)
		}
	}
}

// bill identifies a persona by ID number, registers a visit and uploads
// lines, returning what a settlement request needs.
func (s *stack) bill(t *testing.T, a agent.Insurance, key string, lines ...agent.FeeLine) (agent.SplitRequest, []agent.LineResult) {
	t.Helper()
	p := s.person(t, key)
	x := func() agent.Exchange {
		return agent.Exchange{Msgid: s.msgid(), Operator: agent.Operator{ID: "W01", Name: "窗口1", Type: "1"}}
	}
	person, err := a.Identify(t.Context(), agent.IdentifyRequest{Exchange: x(), CertType: agent.CertIDNo, CertNo: p.Certno})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := person.Active()
	reg, err := a.Register(t.Context(), agent.RegisterRequest{Exchange: x(), PsnNo: person.PsnNo, Insutype: in.Type, CertType: agent.CertIDNo,
		CertNo: p.Certno, VisitNo: "MZ1", DoctorID: "D1", DoctorName: "测试医生", DeptCode: "A03", DeptName: "内科", DeptCategory: "A03", At: s.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var total money.Fen
	for _, l := range lines {
		total += l.Amount
	}
	res, err := a.UploadFees(t.Context(), agent.FeesRequest{Exchange: x(), PsnNo: person.PsnNo, MdtrtID: reg.MdtrtID, Batch: "B1",
		At: s.clock.Now(), DeptCode: "A03", DeptName: "内科", DoctorID: "D1", DoctorName: "测试医生", Lines: lines})
	if err != nil {
		t.Fatal(err)
	}
	return agent.SplitRequest{Exchange: x(), PsnNo: person.PsnNo, Insutype: in.Type, MdtrtID: reg.MdtrtID, Batch: "B1",
		CertType: agent.CertIDNo, CertNo: p.Certno, Total: total, UseAccount: true}, res
}

func line(seq, code string, q money.Quantity, p money.Price) agent.FeeLine {
	return agent.FeeLine{Seq: seq, Code: code, HospCode: "H" + seq, Quantity: q, Price: p, Amount: money.LineAmount(q, p)}
}

func TestAHospitalsWaiverAndAnOverLimitPriceBalance(t *testing.T) {
	s := newStack(t, func(o *sandbox.Options) { o.Personas.Institutions[0].HospitalPartPct = 10 })
	capped := "C14020100100100000001" // the catalogue's price limit: 8.00
	r, res := s.bill(t, s.adapter, "deductible-met",
		line("1", sandbox.CatalogueCode(protocol.ClassA), 10_000, 40_000_000),
		line("2", capped, 20_000, 10_000_000))
	if res[1].Overlimit != 400 || res[1].Class != protocol.ClassB {
		t.Fatalf("over-limit line %+v; want 4.00 above the limit", res[1])
	}
	pre, err := s.adapter.PreSettle(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if pre.Hospital == 0 || pre.Overlimit != 400 || !pre.Balanced() || len(pre.Funds) != 1 || pre.Funds[0].Kind != agent.FundPooled {
		t.Fatalf("pre-settlement %+v", pre)
	}
	r.Exchange.Msgid, r.Pre = s.msgid(), pre
	b, err := s.adapter.Settle(t.Context(), r)
	if err != nil || b.Split.Hospital != pre.Hospital || b.ClearingType != "11" || b.ClearingRegion == "" {
		t.Fatalf("Settle %+v %v", b, err)
	}
}

func TestOAuthSMEndToEndWithTheSandbox(t *testing.T) {
	hospital, _ := sm2.GenerateKey(rand.Reader)
	platform, _ := sm2.GenerateKey(rand.Reader)
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	s := newStack(t, func(o *sandbox.Options) {
		o.Auth = transport.AuthOAuthSM
		o.OAuthSM = &sandbox.OAuthSMOptions{ClientID: "medterm", ClientSecret: "s3cret",
			Users:       map[string]sandbox.OAuthUser{"dg-k01": {Password: "pw", Institution: inst}},
			Keys:        map[string]sandbox.OAuthKeys{inst: {SM4: key, Institution: &hospital.PublicKey}},
			PlatformKey: platform}
	})
	p, err := transport.NewOAuthSM(transport.OAuthSMConfig{TokenURL: s.srv.URL + sandbox.TokenPath, ClientID: "medterm", ClientSecret: "s3cret",
		Username: "dg-k01", Password: "pw", SignKey: hospital, PlatformKey: &platform.PublicKey, SM4Key: key, Clock: s.clock})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := insurance.New(s.newClient(t, p), insurance.Options{Institution: inst})
	r, _ := s.bill(t, a, "acct-first", line("1", sandbox.CatalogueCode(protocol.ClassA), 10_000, 30_000_000))
	if _, err := a.PreSettle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	// The tif credentials do not pass this gateway.
	if _, err := s.adapter.Identify(t.Context(), agent.IdentifyRequest{Exchange: agent.Exchange{Msgid: s.msgid()}, CertType: agent.CertIDNo, CertNo: "x"}); err == nil {
		t.Fatal("a tif client passed the oauth_sm gateway")
	}
}

func TestNoneEndToEndWithTheSandbox(t *testing.T) {
	s := newStack(t, func(o *sandbox.Options) { o.Auth = transport.AuthNone })
	a, _ := insurance.New(s.newClient(t, transport.None{}), insurance.Options{Institution: inst})
	if _, err := a.Policy(t.Context(), agent.Exchange{Msgid: s.msgid()}); err != nil {
		t.Fatal(err)
	}
}

// canned is a Sender answering each infno with a fixed output or error.
type canned map[string]any

func (c canned) Send(_ context.Context, r client.Request) (json.RawMessage, error) {
	switch v := c[r.Infno].(type) {
	case error:
		return nil, v
	case string:
		return json.RawMessage(v), nil
	}
	return nil, nil
}

func (c canned) Download(context.Context, client.Request) ([]byte, error) {
	return nil, errors.New("no file")
}

func adapterOver(t *testing.T, c canned) *insurance.Adapter {
	a, err := insurance.New(c, insurance.Options{Institution: inst})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAnAnswerThatDoesNotBalanceIsNoReceipt(t *testing.T) {
	a := adapterOver(t, canned{"2207": `{"setlinfo":{"setl_id":"S1","medfee_sumamt":100.00,"fund_pay_sumamt":60.00,"acct_pay":20.00,"psn_cash_pay":18.00}}`})
	_, err := a.Settle(context.Background(), agent.SplitRequest{Exchange: agent.Exchange{Msgid: "m"}, Total: 10000})
	if !errors.Is(err, agent.ErrUnbalanced) {
		t.Fatalf("Settle = %v", err)
	}
	a = adapterOver(t, canned{"2207": `{"setlinfo":{"medfee_sumamt":100.00,"fund_pay_sumamt":60.00,"acct_pay":20.00,"psn_cash_pay":20.00}}`})
	if _, err := a.Settle(context.Background(), agent.SplitRequest{Total: 10000}); !errors.Is(err, insurance.ErrAnswer) {
		t.Fatalf("a settlement without setl_id: %v", err)
	}
}

func TestLineResultsComeBackInTheOrderSent(t *testing.T) {
	a := adapterOver(t, canned{"2204": `{"result":[
		{"feedetl_sn":"2","det_item_fee_sumamt":10.00,"fulamt_ownpay_amt":10.00,"chrgitm_lv":"03","selfpay_prop":1},
		{"feedetl_sn":"1","det_item_fee_sumamt":5.00,"inscp_scp_amt":5.00,"chrgitm_lv":"01"}]}`})
	res, err := a.UploadFees(context.Background(), agent.FeesRequest{Lines: []agent.FeeLine{
		line("1", "A", 10_000, 5_000_000), line("2", "C", 10_000, 10_000_000)}})
	if err != nil || res[0].Seq != "1" || res[0].Class != "01" || res[1].Class != "03" || res[1].SelfPayRatio != 10_000 {
		t.Fatalf("UploadFees = %+v, %v", res, err)
	}
	a = adapterOver(t, canned{"2204": `{"result":{"feedetl_sn":"1","det_item_fee_sumamt":5.00,"inscp_scp_amt":4.00,"chrgitm_lv":"01"}}`})
	if _, err := a.UploadFees(context.Background(), agent.FeesRequest{Lines: []agent.FeeLine{line("1", "A", 10_000, 5_000_000)}}); !errors.Is(err, agent.ErrUnbalanced) {
		t.Fatalf("a line split into less than its amount: %v", err)
	}
}

func TestFailuresBecomeRefusals(t *testing.T) {
	a := adapterOver(t, canned{
		"2601": &protocol.Error{Infno: "2601", Kind: protocol.KindNotFound, Message: "原交易不存在"},
		"1101": &protocol.Error{Infno: "1101", Message: "unclassified"},
		"2201": agent.ErrInDoubt,
	})
	rev, err := a.Reverse(context.Background(), agent.ReverseRequest{Of: "m", What: agent.ReverseSettle})
	if err != nil || rev.Found {
		t.Fatalf("Reverse of a msgid never processed: %+v %v", rev, err)
	}
	_, err = a.Identify(context.Background(), agent.IdentifyRequest{})
	var ref *agent.Refusal
	if !errors.As(err, &ref) || !ref.Processed() || ref.Op != "1101" {
		t.Fatalf("an unclassified failure: %v; want a processed refusal", err)
	}
	if _, err := a.Register(context.Background(), agent.RegisterRequest{}); !errors.Is(err, agent.ErrInDoubt) {
		t.Fatalf("in doubt passes through: %v", err)
	}
	if _, err := a.Reverse(context.Background(), agent.ReverseRequest{What: "both"}); !errors.Is(err, agent.ErrInvalid) {
		t.Fatalf("a reversal of nothing known: %v", err)
	}
}
