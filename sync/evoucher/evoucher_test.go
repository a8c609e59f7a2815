package evoucher_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/evoucher"
)

const org = "H44030000001"

// component answers every ec.query with body, after checking the request's
// shape.
func component(t *testing.T, body string) *evoucher.Component {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			OrgID     string `json:"orgId"`
			TransType string `json:"transType"`
			Data      struct {
				OrgID, BusinessType, OperatorID, OperatorName, OfficeID, OfficeName, DeviceType, EcQrCode string
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request: %v", err)
		}
		d := req.Data
		if req.TransType != "ec.query" || req.OrgID != org || d.OrgID != org || d.BusinessType != agent.EVoucherSettle ||
			d.OperatorID != "K01" || d.DeviceType != "SelfService" || d.EcQrCode != "CODE" {
			t.Errorf("ec.query request %+v", req)
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := evoucher.New(org, evoucher.HTTP{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var query = agent.EVoucherQuery{Code: "CODE", BusinessType: agent.EVoucherSettle, OperatorID: "K01", OperatorName: "自助机01", Kiosk: true}

func TestTheComponentsAnswerIsRead(t *testing.T) {
	for name, body := range map[string]string{
		// shape: research notes §11, the rebuilt ec.query answer (after
		// client test data, index id 37312209125)
		"data as an object": `{"code":0,"message":"交易成功","orgId":"H44030000001","data":{"ecToken":"440300ec0123456789abcdef0123456789ab",
			"idNo":"110101199001010000","idType":"01","userName":"测试甲","insuOrg":"440300","ecIndexNo":"0123456789ABCDEF0123456789ABCDEF","chnlId":null}}`,
		// shape: a NeiMengGu client's test data, data encoded twice
		// (index id 30582980908); code as a string (hsa-his checks "0")
		"data as a JSON string": `{"code":"0","message":"交易成功","data":"{\"ecToken\":\"440300ec0123456789abcdef0123456789ab\",\"idNo\":\"110101199001010000\",\"idType\":\"01\",\"userName\":\"测试甲\",\"insuOrg\":\"440300\"}"}`,
	} {
		t.Run(name, func(t *testing.T) {
			h, err := component(t, body).Query(context.Background(), query)
			if err != nil {
				t.Fatal(err)
			}
			want := agent.EVoucherHolder{Token: "440300ec0123456789abcdef0123456789ab", IDNo: "110101199001010000", IDType: "01", Name: "测试甲", Region: "440300"}
			if h != want {
				t.Fatalf("holder %+v", h)
			}
		})
	}
}

func TestARefusalCarriesTheComponentsMessage(t *testing.T) {
	_, err := component(t, `{"code":1,"message":"电子凭证二维码已过期，请刷新后重试","data":null}`).Query(context.Background(), query)
	var ref *evoucher.Refusal
	if !errors.As(err, &ref) || !errors.Is(err, evoucher.ErrRefused) || ref.Message != "电子凭证二维码已过期，请刷新后重试" {
		t.Fatalf("Query = %v", err)
	}
	_, err = component(t, `{"code":0,"message":"交易成功","data":{"idNo":"x"}}`).Query(context.Background(), query)
	if !errors.Is(err, evoucher.ErrAnswer) {
		t.Fatalf("a success without a token: %v", err)
	}
}

func TestAComponentThatDoesNotAnswerIsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c, _ := evoucher.New(org, evoucher.HTTP{URL: srv.URL})
	if _, err := c.Query(context.Background(), query); !errors.Is(err, agent.ErrUnreachable) {
		t.Fatalf("Query = %v", err)
	}
}
