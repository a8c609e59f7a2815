// Package evoucher is the adapter to the national e-voucher component
// (医保电子凭证): it implements agent.EVoucher with the component's ec.query
// request and answer. On a terminal the component is a vendor library
// (EcQuery in a DLL, or NationEcTrans against a local service); this
// adapter reaches it over a local HTTP endpoint, the form some clients
// use, so the transport stays behind the port: a DLL binding is another
// Transport with the same JSON in and out.
package evoucher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent"
)

// Transport carries one ec.query's JSON to the component and its answer
// back. An error means no answer came.
type Transport interface {
	Exchange(ctx context.Context, in []byte) ([]byte, error)
}

// HTTP is the component reached over a local HTTP endpoint (for instance
// http://127.0.0.1:port/localcfc/api/hsecfc/localQrCodeQuery).
type HTTP struct {
	URL    string
	Client *http.Client // default: 10 s timeout, no proxy
}

// maxAnswer bounds an answer: the DLL's own output buffer is 8 KiB.
const maxAnswer = 64 << 10

// Exchange implements Transport.
func (h HTTP) Exchange(ctx context.Context, in []byte) ([]byte, error) {
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(in))
	if err != nil {
		return nil, fmt.Errorf("ec.query request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ec.query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil || len(body) > maxAnswer {
		return nil, fmt.Errorf("ec.query: answer cut short or too large: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ec.query: HTTP %d", resp.StatusCode)
	}
	return body, nil
}

// Component implements agent.EVoucher.
type Component struct {
	// Org is the institution's code (orgId).
	Org string
	T   Transport
}

var _ agent.EVoucher = (*Component)(nil)

// New returns the adapter for an institution over a transport.
func New(org string, t Transport) (*Component, error) {
	if len(org) != 12 {
		return nil, fmt.Errorf("%w: orgId %q must be the 12-character institution code", ErrConfig, org)
	}
	if t == nil {
		return nil, fmt.Errorf("%w: no transport", ErrConfig)
	}
	return &Component{Org: org, T: t}, nil
}

type request struct {
	OrgID     string      `json:"orgId"`
	TransType string      `json:"transType"`
	Data      requestData `json:"data"`
	Extra     string      `json:"extra"`
}

type requestData struct {
	OrgID        string `json:"orgId"`
	BusinessType string `json:"businessType"`
	OperatorID   string `json:"operatorId"`
	OperatorName string `json:"operatorName"`
	OfficeID     string `json:"officeId"`
	OfficeName   string `json:"officeName"`
	// DeviceType is SelfService at a kiosk and left out elsewhere, as the
	// component's SDK says.
	DeviceType string `json:"deviceType,omitempty"`
	// EcQrCode is the scanned code when the terminal read it itself; a
	// component that drives its own scanner ignores it.
	EcQrCode string `json:"ecQrCode,omitempty"`
}

type answer struct {
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

type holder struct {
	EcToken  string `json:"ecToken"`
	IDNo     string `json:"idNo"`
	IDType   string `json:"idType"`
	UserName string `json:"userName"`
	InsuOrg  string `json:"insuOrg"`
}

// Query implements agent.EVoucher (ec.query).
func (c *Component) Query(ctx context.Context, q agent.EVoucherQuery) (agent.EVoucherHolder, error) {
	if q.BusinessType == "" || q.OperatorID == "" {
		return agent.EVoucherHolder{}, fmt.Errorf("ec.query: %w: a business type and an operator are required", agent.ErrInvalid)
	}
	r := request{OrgID: c.Org, TransType: "ec.query", Data: requestData{
		OrgID: c.Org, BusinessType: q.BusinessType, OperatorID: q.OperatorID, OperatorName: q.OperatorName,
		OfficeID: q.DeptID, OfficeName: q.DeptName, EcQrCode: q.Code,
	}}
	if q.Kiosk {
		r.Data.DeviceType = "SelfService"
	}
	in, err := json.Marshal(r)
	if err != nil {
		return agent.EVoucherHolder{}, fmt.Errorf("ec.query: %w", err)
	}
	out, err := c.T.Exchange(ctx, in)
	if err != nil {
		return agent.EVoucherHolder{}, fmt.Errorf("%w: %w", agent.ErrUnreachable, err)
	}
	return decode(out)
}

// decode reads the component's answer: code 0 (a number or a string) and
// the holder in data, an object or a string holding one (some
// deployments encode it twice).
func decode(out []byte) (agent.EVoucherHolder, error) {
	var a answer
	if err := json.Unmarshal(out, &a); err != nil || len(a.Code) == 0 {
		return agent.EVoucherHolder{}, fmt.Errorf("ec.query: %w: not the component's answer", ErrAnswer)
	}
	code := strings.Trim(strings.TrimSpace(string(a.Code)), `"`)
	if n, err := strconv.Atoi(code); err != nil || n != 0 {
		return agent.EVoucherHolder{}, &Refusal{Code: code, Message: a.Message}
	}
	data := bytes.TrimSpace(a.Data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return agent.EVoucherHolder{}, fmt.Errorf("ec.query: %w: data: %v", ErrAnswer, err)
		}
		data = []byte(s)
	}
	var h holder
	if err := json.Unmarshal(data, &h); err != nil {
		return agent.EVoucherHolder{}, fmt.Errorf("ec.query: %w: data: %v", ErrAnswer, err)
	}
	if h.EcToken == "" {
		return agent.EVoucherHolder{}, fmt.Errorf("ec.query: %w: no ecToken", ErrAnswer)
	}
	return agent.EVoucherHolder{Token: h.EcToken, IDNo: h.IDNo, IDType: h.IDType, Name: h.UserName, Region: h.InsuOrg}, nil
}
