package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent/api"
)

const holdBody = `{"identity":{"cert_type":"02","cert_no":"11010519491231002X","name":"王小明"},
 "operator":{"id":"D01","type":"1"},
 "bill":{"visit_no":"MZ7","dept_code":"A03","doctor_id":"D1",
   "items":[{"code":"X1","class":"01","quantity":2,"unit_price_fen":1250,"amount_fen":2500}]}}`

// The HIS leaves a bill; the window finds it by the patient's ID number,
// settles it for them, and cannot cancel it afterwards.
func TestAHeldBillIsLeftFoundSettledAndNotCancelledAfter(t *testing.T) {
	f := newFixture(t)
	resp, data := f.doRaw(t, "POST", "/v1/bills", holdBody, map[string]string{"Idempotency-Key": "rx-1"})
	var h api.HeldView
	if resp.StatusCode != 201 || json.Unmarshal(data, &h) != nil || h.State != "open" || h.Total != 2500 || strings.Contains(string(data), "小明") {
		t.Fatalf("hold: %d %s", resp.StatusCode, data)
	}
	if strings.Contains(string(data), "11010519491231002X") || strings.Contains(string(data), "patient_ref") {
		t.Fatalf("the held bill shows personal data or its pseudonym: %s", data)
	}
	resp, data = f.doRaw(t, "POST", "/v1/bills/find", `{"identity":{"cert_type":"02","cert_no":"11010519491231002X"}}`, nil)
	var l api.HeldList
	if resp.StatusCode != 200 || json.Unmarshal(data, &l) != nil || len(l.Bills) != 1 || l.Bills[0].ID != h.ID {
		t.Fatalf("find: %d %s", resp.StatusCode, data)
	}
	resp, data = f.doRaw(t, "POST", "/v1/bills/"+h.ID+"/settle",
		`{"identity":{"cert_type":"02","cert_no":"110105198001010016"},"operator":{"id":"W01","type":"1"}}`, nil)
	var eb api.ErrorBody
	if resp.StatusCode != 409 || json.Unmarshal(data, &eb) != nil || eb.Error.Code != "OTHER_PATIENT" || eb.Error.MessageZH == "" {
		t.Fatalf("settled by another patient: %d %s", resp.StatusCode, data)
	}
	resp, data = f.doRaw(t, "POST", "/v1/bills/"+h.ID+"/settle",
		`{"identity":{"cert_type":"02","cert_no":"11010519491231002X"},"operator":{"id":"W01","type":"1"}}`, nil)
	var sh api.SettledHeld
	if resp.StatusCode != 200 || json.Unmarshal(data, &sh) != nil || sh.Settlement.State != "settled" || sh.Bill.State != "settled" || sh.Bill.Settlement != sh.Settlement.ID {
		t.Fatalf("settle: %d %s", resp.StatusCode, data)
	}
	resp, data = f.doRaw(t, "POST", "/v1/bills/"+h.ID+"/cancel", `{"operator":{"id":"D01","type":"1"}}`, nil)
	if resp.StatusCode != 409 {
		t.Fatalf("cancel after settling: %d %s", resp.StatusCode, data)
	}
	resp, data = f.doRaw(t, "GET", "/v1/bills?state=all", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(data, &l) != nil || len(l.Bills) != 1 || l.Bills[0].State != "settled" {
		t.Fatalf("list: %d %s", resp.StatusCode, data)
	}
	if resp, _ := f.doRaw(t, "GET", "/v1/bills?state=bogus", "", nil); resp.StatusCode != 400 {
		t.Fatalf("a bad filter: %d", resp.StatusCode)
	}
}
