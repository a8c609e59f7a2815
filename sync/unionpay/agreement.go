package unionpay

import (
	"context"
	"fmt"
	"strings"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// The agreement calls are medterm's own operations (package acp): no
// public specification lets a merchant look an agreement up by the
// patient, sign a source or change limits over ACP. They are signed and
// resent like the payments. The patient's ID number and name travel in
// customerInfo and a card number in accNo, each sealed with the channel's
// key, as ACP seals them.

// Agreement looks the patient's agreement up (txnType M0). A patient with
// none is agent.ErrNoAgreement.
func (c *Client) Agreement(ctx context.Context, q agent.AgreementQuery) (agent.Agreement, error) {
	const op = "agreement"
	req, err := c.agreementRequest(op, acp.TxnAgreementQuery, &q, nil, acp.BagRegion, q.Region)
	if err != nil {
		return agent.Agreement{}, err
	}
	ans, err := c.agreementCall(ctx, op, req)
	if err != nil {
		return agent.Agreement{}, err
	}
	if ans[acp.FRespCode] == acp.CodeNoBinding {
		return agent.Agreement{}, fmt.Errorf("%s: %w", op, agent.ErrNoAgreement)
	}
	return c.agreementAnswer(op, ans, agent.ErrInvalid)
}

// Sign binds a source (txnType M1). Its Token is the card or account
// number, or the bank's reference of a credit line; the agreement answered
// names the source by the channel's token instead.
func (c *Client) Sign(ctx context.Context, r agent.SignRequest) (agent.Agreement, error) {
	const op = "sign"
	switch r.Source.Kind {
	case agent.SourceBankCard, agent.SourceCreditLine, agent.SourceCardAccount:
	default:
		return agent.Agreement{}, fmt.Errorf("%s: %w: source kind %q", op, agent.ErrInvalid, r.Source.Kind)
	}
	if r.Source.Token == "" {
		return agent.Agreement{}, fmt.Errorf("%s: %w: no card or account number", op, agent.ErrInvalid)
	}
	sealed, err := acp.Encrypt(c.channel[0], r.Source.Token)
	if err != nil {
		return agent.Agreement{}, fmt.Errorf("%s: %w", op, err)
	}
	req, err := c.agreementRequest(op, acp.TxnAgreementSign, &r.Patient, &r.Operator,
		acp.BagSourceKind, r.Source.Kind, acp.BagBank, r.Source.Bank, acp.BagAcctFirst, flag(r.AccountFirst), acp.BagRegion, r.Patient.Region)
	if err != nil {
		return agent.Agreement{}, err
	}
	req[acp.FAccNo] = sealed
	ans, err := c.agreementCall(ctx, op, req)
	if err != nil {
		return agent.Agreement{}, err
	}
	return c.agreementAnswer(op, ans, agent.ErrInvalid)
}

// SetLimits lowers the password-free limits (txnType M2); zero keeps one.
func (c *Client) SetLimits(ctx context.Context, r agent.LimitsRequest) (agent.Agreement, error) {
	const op = "set limits"
	if r.PerPayment < 0 || r.Daily < 0 || (r.PerPayment == 0 && r.Daily == 0) {
		return agent.Agreement{}, fmt.Errorf("%s: %w: limits %s and %s", op, agent.ErrInvalid, r.PerPayment, r.Daily)
	}
	kv := []string{acp.BagAgreementID, r.AgreementID}
	if r.PerPayment > 0 {
		kv = append(kv, acp.BagPerTxn, fen(r.PerPayment))
	}
	if r.Daily > 0 {
		kv = append(kv, acp.BagDaily, fen(r.Daily))
	}
	req, err := c.agreementRequest(op, acp.TxnAgreementLimits, nil, &r.Operator, kv...)
	if err != nil {
		return agent.Agreement{}, err
	}
	ans, err := c.agreementCall(ctx, op, req)
	if err != nil {
		return agent.Agreement{}, err
	}
	return c.agreementAnswer(op, ans, agent.ErrInvalid)
}

// CancelAgreement ends an agreement (txnType M3). An agreement the channel
// does not have (or no longer has) is agent.ErrNotFound.
func (c *Client) CancelAgreement(ctx context.Context, r agent.AgreementRef) error {
	const op = "cancel agreement"
	req, err := c.agreementRequest(op, acp.TxnAgreementCancel, nil, &r.Operator, acp.BagAgreementID, r.AgreementID)
	if err != nil {
		return err
	}
	ans, err := c.agreementCall(ctx, op, req)
	if err != nil {
		return err
	}
	switch code := ans[acp.FRespCode]; {
	case code == acp.CodeOK:
		return nil
	case code == acp.CodeNoBinding:
		return fmt.Errorf("%s: %w: %s", op, agent.ErrNotFound, ans[acp.FRespMsg])
	default:
		return &RespError{Op: op, Code: code, Msg: ans[acp.FRespMsg], Kind: agent.ErrInvalid}
	}
}

// agreementRequest builds an agreement call: the patient (sealed) when
// given, and the reserved bag of kv plus the operator when given.
func (c *Client) agreementRequest(op, txnType string, patient *agent.AgreementQuery, who *agent.Operator, kv ...string) (acp.Fields, error) {
	req := acp.Fields{
		acp.FTxnType: txnType, acp.FTxnSubType: acp.SubDefault, acp.FBizType: acp.BizAgreement,
		acp.FChannelType: acp.ChannelInternet, acp.FOrderID: newOrderID(), acp.FTxnTime: acp.FormatTime(c.clk.Now()),
	}
	if patient != nil {
		if patient.IDNo == "" {
			return nil, fmt.Errorf("%s: %w: no ID number", op, agent.ErrInvalid)
		}
		info, err := acp.Bag(acp.BagCertifTp, acp.CertifResident, acp.BagCertifID, patient.IDNo, acp.BagCustomerNm, patient.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: the patient's ID number or name: %v", op, agent.ErrInvalid, err)
		}
		if req[acp.FCustomerInfo], err = acp.Encrypt(c.channel[0], info); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if who != nil {
		kv = append(kv, acp.BagOperator, who.ID, acp.BagOperatorTp, who.Type)
	}
	if len(kv) > 0 {
		res, err := acp.Bag(kv...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", op, agent.ErrInvalid, err)
		}
		req[acp.FReserved] = res
	}
	return req, nil
}

// agreementCall sends an agreement call and checks the answer is about it.
// An answer still pending leaves the call in doubt: it may yet be done.
func (c *Client) agreementCall(ctx context.Context, op string, req acp.Fields) (acp.Fields, error) {
	ans, err := c.exchange(ctx, op, acp.PathAgreement, req)
	if err != nil {
		return nil, err
	}
	if err := checkEcho(ans, req); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if acp.Pending(ans[acp.FRespCode]) {
		return nil, fmt.Errorf("%s: %w: respCode %s, %s", op, agent.ErrInDoubt, ans[acp.FRespCode], ans[acp.FRespMsg])
	}
	c.log.Info("payment channel answered", "op", op, "order", req[acp.FOrderID], "resp_code", ans[acp.FRespCode])
	return ans, nil
}

// maxSources bounds the sources read from an answer.
const maxSources = 16

// agreementAnswer reads an agreement from a 00 answer; any other code is
// a *RespError of kind, but 40 (no such agreement) is of ErrNotFound.
func (c *Client) agreementAnswer(op string, ans acp.Fields, kind error) (agent.Agreement, error) {
	code := ans[acp.FRespCode]
	switch {
	case code == acp.CodeNoBinding:
		return agent.Agreement{}, &RespError{Op: op, Code: code, Msg: ans[acp.FRespMsg], Kind: agent.ErrNotFound}
	case code != acp.CodeOK:
		return agent.Agreement{}, &RespError{Op: op, Code: code, Msg: ans[acp.FRespMsg], Kind: kind}
	}
	a, err := parseAgreement(ans)
	if err != nil {
		return agent.Agreement{}, fmt.Errorf("%s: %w", op, err)
	}
	return a, nil
}

func parseAgreement(ans acp.Fields) (agent.Agreement, error) {
	var a agent.Agreement
	var err error
	if a.ID = ans[acp.FAgreementID]; a.ID == "" {
		return a, fmt.Errorf("%w: no agreementId", ErrMalformed)
	}
	if a.AccountFirst, err = readFlag(ans, acp.FAccountFirst); err != nil {
		return a, err
	}
	if a.PerPayment, err = parseFen(ans[acp.FPerTxnLimit]); err != nil {
		return a, fmt.Errorf("perTxnLimit: %w", err)
	}
	if a.Daily, err = parseFen(ans[acp.FDailyLimit]); err != nil {
		return a, fmt.Errorf("dailyLimit: %w", err)
	}
	for i := 1; ans[acp.SourceField(i, acp.FSrcKind)] != ""; i++ {
		if i > maxSources {
			return a, fmt.Errorf("%w: more than %d sources", ErrMalformed, maxSources)
		}
		s := agent.PaySource{
			Kind:   ans[acp.SourceField(i, acp.FSrcKind)],
			Token:  ans[acp.SourceField(i, acp.FSrcToken)],
			Masked: maskSource(ans[acp.SourceField(i, acp.FSrcMasked)]),
			Bank:   ans[acp.SourceField(i, acp.FSrcBank)],
		}
		switch s.Kind {
		case agent.SourceBankCard, agent.SourceCreditLine, agent.SourceCardAccount:
		default:
			return a, fmt.Errorf("%w: source %d of kind %q", ErrMalformed, i, s.Kind)
		}
		if s.Token == "" {
			return a, fmt.Errorf("%w: source %d without a token", ErrMalformed, i)
		}
		if v := ans[acp.SourceField(i, acp.FSrcAvailable)]; v != "" {
			if s.Available, err = parseFen(v); err != nil {
				return a, fmt.Errorf("source %d available: %w", i, err)
			}
		}
		a.Sources = append(a.Sources, s)
	}
	if rel := ans[acp.FFamilyRel]; rel != "" {
		switch rel {
		case "spouse", "parent", "child":
		default:
			return a, fmt.Errorf("%w: family relation %q (only spouse, parent, child)", ErrMalformed, rel)
		}
		confirm, err := readFlag(ans, acp.FFamilyConfirm)
		if err != nil {
			return a, err
		}
		a.Family = &agent.FamilyLink{Relation: rel, ConfirmFirst: confirm, Signer: mask.Name(ans[acp.FFamilySigner])}
	}
	return a, nil
}

func readFlag(ans acp.Fields, k string) (bool, error) {
	switch ans[k] {
	case "1":
		return true, nil
	case "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%w: %s %q is not 0 or 1", ErrMalformed, k, ans[k])
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// maskSource keeps what the channel shows of a source, unless it shows
// more than the first and last four digits of a number: then only the
// last four are kept. A channel's mistake must not put a card number on a
// receipt.
func maskSource(s string) string {
	digits := 0
	var all strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
			all.WriteRune(r)
		}
	}
	if digits <= 8 {
		return s
	}
	return mask.Card(all.String())
}
