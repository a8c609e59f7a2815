package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Personal data the cases put where it does not belong: no answer may
// carry it back.
const (
	patientName = "陈建国"
	idNumber    = "11010519491231002X"
	otherID     = "110105198001010016"
)

// edit applies replacements to goodBody, each of which must apply.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	b := goodBody
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(b, pairs[i]) {
			t.Fatalf("goodBody has no %q", pairs[i])
		}
		b = strings.Replace(b, pairs[i], pairs[i+1], 1)
	}
	return b
}

// withBill adds text fields to goodBody's bill.
func withBill(t *testing.T, fields string) string {
	return edit(t, `"doctor_id":"D1",`, `"doctor_id":"D1",`+fields+`,`)
}

func gbk(t *testing.T, s string) string {
	t.Helper()
	out, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gb18030(t *testing.T, s string) string {
	t.Helper()
	out, err := simplifiedchinese.GB18030.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// chineseBody is a bill whose text is Chinese, as a HIS sends it.
func chineseBody(t *testing.T) string {
	return edit(t,
		`"cert_no":"11010519491231002X"`, `"cert_no":"11010519491231002X","name":"陈建国"`,
		`"id":"W01"`, `"id":"W01","name":"李收费"`,
		`"doctor_id":"D1",`, `"doctor_id":"D1","dept_name":"内科","doctor_name":"王医生",`,
		`"code":"X1",`, `"code":"X1","name":"阿莫西林胶囊",`)
}

// TestEveryRequestHasOneReading is the local API's strict reading of a
// body, case by case: what encoding/json alone would have let through (or
// read differently from the HIS) is refused with the field named, the
// value never quoted, and nothing journaled or sent.
func TestEveryRequestHasOneReading(t *testing.T) {
	type tc struct {
		name   string
		method string // POST if empty
		path   string // /v1/settlements if empty
		body   string
		hdr    map[string]string
		status int
		code   string // for an error answer
		field  string // the answer's message names it
		check  func(t *testing.T, f *fixture, resp *http.Response, body []byte)
	}
	long := func(r string, n int) string { return strings.Repeat(r, n) }
	cases := []tc{
		// Two values for one field: a reader must not choose.
		{name: "duplicate cert_no", body: edit(t, `"cert_no":"11010519491231002X"`, `"cert_no":"11010519491231002X","cert_no":"`+otherID+`"`),
			status: 400, code: "DUPLICATE_KEY", field: "identity.cert_no"},
		{name: "duplicate amount_fen", body: edit(t, `"amount_fen":2500`, `"amount_fen":1,"amount_fen":2500`),
			status: 400, code: "DUPLICATE_KEY", field: "bill.items[0].amount_fen"},
		{name: "duplicate key spelled with an escape", body: edit(t, `"visit_no":"MZ1"`, `"visit_no":"MZ1","visit\u005fno":"MZ2"`),
			status: 400, code: "DUPLICATE_KEY", field: "bill.visit_no"},
		{name: "duplicate reason in a refund", path: "/v1/settlements/S1/refund", body: `{"operator":{"id":"W01","type":"1"},"reason":"a","reason":"b"}`,
			status: 400, code: "DUPLICATE_KEY", field: "reason"},
		{name: "duplicate operator in a void", path: "/v1/settlements/S1/void", body: `{"operator":{"id":"W01","type":"1"},"operator":{"id":"W02","type":"1"}}`,
			status: 400, code: "DUPLICATE_KEY", field: "operator"},
		{name: "duplicate date for reconciliation", path: "/v1/reconcile", body: `{"date":"2025-01-02","date":"2025-01-03"}`,
			status: 400, code: "DUPLICATE_KEY", field: "date"},

		// Keys are case-sensitive: another spelling is another key.
		{name: "Items and ITEMS", body: edit(t, `"items":[`, `"Items":[],"ITEMS":[`),
			status: 400, code: "MALFORMED_JSON", field: "bill.items"},
		{name: "items and Items", body: edit(t, `"doctor_id":"D1",`, `"doctor_id":"D1","Items":[],`),
			status: 400, code: "MALFORMED_JSON", field: "bill.items"},
		{name: "a key in another case alone", body: edit(t, `"visit_no"`, `"VISIT_NO"`),
			status: 400, code: "MALFORMED_JSON", field: "bill.visit_no"},
		{name: "case-variant key in a void", path: "/v1/settlements/S1/void", body: `{"Operator":{"id":"W01","type":"1"}}`,
			status: 400, code: "MALFORMED_JSON", field: "operator"},

		// Text is UTF-8 without NUL; nothing becomes U+FFFD on the way.
		{name: "invalid UTF-8 in visit_no", body: edit(t, `"visit_no":"MZ1"`, "\"visit_no\":\"MZ\xff1\""),
			status: 400, code: "INVALID_ENCODING", field: "bill.visit_no"},
		{name: "invalid UTF-8 in operator id", body: edit(t, `"id":"W01"`, "\"id\":\"W\xc30\""),
			status: 400, code: "INVALID_ENCODING", field: "operator.id"},
		{name: "lone surrogate escape in a name", body: edit(t, `"doctor_id":"D1",`, `"doctor_id":"D1","doctor_name":"\ud800",`),
			status: 400, code: "INVALID_ENCODING", field: "bill.doctor_name"},
		{name: `\u0000 in doctor_id`, body: edit(t, `"doctor_id":"D1"`, `"doctor_id":"D1\u0000"`),
			status: 400, code: "NUL_CHARACTER", field: "bill.doctor_id"},
		{name: `\u0000 in a key`, body: edit(t, `"visit_no"`, `"visit_no\u0000"`),
			status: 400, code: "NUL_CHARACTER", field: "bill"},

		// Every string within the national field it feeds.
		{name: "450 KB dept_name", body: withBill(t, `"dept_name":"`+long("内", 150_000)+`"`),
			status: 400, code: "INVALID_REQUEST", field: "bill.dept_name"},
		{name: "50 KB doctor_name", body: withBill(t, `"doctor_name":"`+long("x", 50_000)+`"`),
			status: 400, code: "INVALID_REQUEST", field: "bill.doctor_name"},
		{name: "dept_name of 101 characters", body: withBill(t, `"dept_name":"`+long("科", 101)+`"`),
			status: 400, code: "INVALID_REQUEST", field: "bill.dept_name"},
		{name: "item name of 101 characters", body: edit(t, `"code":"X1",`, `"code":"X1","name":"`+long("药", 101)+`",`),
			status: 400, code: "INVALID_REQUEST", field: "bill.items[0].name"},
		{name: "visit_no of 31 characters", body: edit(t, `"visit_no":"MZ1"`, `"visit_no":"`+long("9", 31)+`"`),
			status: 400, code: "INVALID_REQUEST", field: "bill.visit_no"},
		{name: "operator name of 51 characters", body: edit(t, `"id":"W01"`, `"id":"W01","name":"`+long("李", 51)+`"`),
			status: 400, code: "INVALID_REQUEST", field: "operator.name"},
		{name: "patient name of 51 characters", body: edit(t, `"cert_no":"11010519491231002X"`, `"cert_no":"11010519491231002X","name":"`+long("陈", 51)+`"`),
			status: 400, code: "INVALID_REQUEST", field: "identity.name"},
		{name: "card reader name of 129 characters", body: edit(t, `"cert_type":"02",`, `"cert_type":"02","card_reader":"`+long("r", 129)+`",`),
			status: 400, code: "INVALID_REQUEST", field: "identity.card_reader"},
		{name: "void reason of 101 bytes", path: "/v1/settlements/S1/void", body: `{"operator":{"id":"W01","type":"1"},"reason":"` + long("x", 101) + `"}`,
			status: 400, code: "INVALID_REQUEST", field: "reason"},
		{name: "dept_name of 100 characters is accepted", body: withBill(t, `"dept_name":"`+long("科", 100)+`"`), status: 201},
		{name: "doctor_name of 50 characters is accepted", body: withBill(t, `"doctor_name":"`+long("王", 50)+`"`), status: 201},

		// A unit price is more than zero, at the door.
		{name: "unit price 0", body: edit(t, `"unit_price_fen":1250,"amount_fen":2500`, `"unit_price_fen":0,"amount_fen":0`),
			status: 400, code: "INVALID_REQUEST", field: "bill.items[0].unit_price_fen"},
		{name: "negative unit price", body: edit(t, `"unit_price_fen":1250,"amount_fen":2500`, `"unit_price_fen":-1250,"amount_fen":-2500`),
			status: 400, code: "INVALID_REQUEST", field: "bill.items[0].unit_price_fen"},

		// Charsets: UTF-8 by default, GBK and GB18030 as legacy HIS send them.
		{name: "GBK body", body: gbk(t, chineseBody(t)), hdr: map[string]string{"Content-Type": "application/json; charset=gbk"}, status: 201,
			check: chineseRoundTrip},
		{name: "GB2312 label, read as GBK", body: gbk(t, chineseBody(t)), hdr: map[string]string{"Content-Type": "application/json; charset=gb2312"}, status: 201,
			check: chineseRoundTrip},
		{name: "GB18030 body", body: gb18030(t, chineseBody(t)), hdr: map[string]string{"Content-Type": "application/json; charset=GB18030"}, status: 201,
			check: chineseRoundTrip},
		{name: "UTF-8 said so", body: chineseBody(t), hdr: map[string]string{"Content-Type": `application/json; charset="UTF-8"`}, status: 201,
			check: chineseRoundTrip},
		{name: "unknown charset", body: goodBody, hdr: map[string]string{"Content-Type": "application/json; charset=latin1"},
			status: 415, code: "UNSUPPORTED_CHARSET", field: "charset"},
		{name: "UTF-16 charset", body: goodBody, hdr: map[string]string{"Content-Type": "application/json; charset=utf-16"},
			status: 415, code: "UNSUPPORTED_CHARSET", field: "charset"},
		{name: "bytes that are not GBK", body: strings.Replace(gbk(t, chineseBody(t)), gbk(t, "内科"), "\x81\x20", 1), hdr: map[string]string{"Content-Type": "application/json; charset=gbk"},
			status: 400, code: "INVALID_ENCODING"},
		{name: "a GBK body sent as UTF-8", body: gbk(t, chineseBody(t)),
			status: 400, code: "INVALID_ENCODING", field: "identity.name"},

		// Messages name the field and what it must be, never the value.
		{name: "bad mode holding a name", body: edit(t, `"bill":`, `"mode":"`+patientName+`","bill":`),
			status: 400, code: "INVALID_REQUEST", field: "mode"},
		{name: "bad cert_type holding an ID number", body: edit(t, `"cert_type":"02"`, `"cert_type":"`+idNumber+`"`),
			status: 400, code: "INVALID_REQUEST", field: "identity.cert_type"},
		{name: "bad operator type holding a name", body: edit(t, `"type":"1"`, `"type":"`+patientName+`"`),
			status: 400, code: "INVALID_REQUEST", field: "operator.type"},
		{name: "bad class holding an ID number", body: edit(t, `"class":"01"`, `"class":"`+idNumber+`"`),
			status: 400, code: "INVALID_REQUEST", field: "bill.items[0].class"},
		{name: "unknown key holding a name", body: edit(t, `"bill":`, `"`+patientName+`":1,"bill":`),
			status: 400, code: "MALFORMED_JSON", field: "expected one of bill, identity, mode, operator"},
		{name: "a name where a number belongs", body: edit(t, `"quantity":2`, `"quantity":"`+patientName+`"`),
			status: 400, code: "MALFORMED_JSON", field: "bill.items[0].quantity"},
		{name: "unknown card reader named like a patient", body: edit(t, `"cert_type":"02",`, `"card_reader":"`+patientName+`",`),
			status: 400, code: "UNKNOWN_READER", field: "identity.card_reader"},
		{name: "foreign origin holding a name", body: goodBody, hdr: map[string]string{"Origin": "https://" + patientName + ".example"},
			status: 403, code: "FORBIDDEN_ORIGIN"},

		// The bearer scheme in any case (RFC 7235).
		{name: "bearer in lower case", body: goodBody, hdr: map[string]string{"Authorization": "bearer " + token}, status: 201},
		{name: "BEARER in upper case", body: goodBody, hdr: map[string]string{"Authorization": "BEARER " + token}, status: 201},
		{name: "another scheme", body: goodBody, hdr: map[string]string{"Authorization": "Basic " + token}, status: 401, code: "UNAUTHORIZED"},

		// A known path with the wrong method is 405 with Allow, not 404.
		{name: "DELETE settlements", method: "DELETE", status: 405, code: "METHOD_NOT_ALLOWED", check: allow("GET", "POST")},
		{name: "GET sync", method: "GET", path: "/v1/sync", status: 405, code: "METHOD_NOT_ALLOWED", check: allow("POST")},
		{name: "PUT a refund", method: "PUT", path: "/v1/settlements/S1/refund", status: 405, code: "METHOD_NOT_ALLOWED", check: allow("POST")},
		{name: "POST health", path: "/v1/health", status: 405, code: "METHOD_NOT_ALLOWED", check: allow("GET")},
		{name: "unknown path", method: "GET", path: "/v1/settlement", status: 404, code: "NOT_FOUND"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			hdr := map[string]string{"Idempotency-Key": "his-1"}
			for k, v := range c.hdr {
				hdr[k] = v
			}
			method, path := c.method, c.path
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = "/v1/settlements"
			}
			resp, body := f.doRaw(t, method, path, c.body, hdr)
			var eb struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			_ = json.Unmarshal(body, &eb)
			if resp.StatusCode != c.status || eb.Error.Code != c.code {
				t.Fatalf("status %d code %q (%s); want %d %q", resp.StatusCode, eb.Error.Code, eb.Error.Message, c.status, c.code)
			}
			if c.check != nil {
				c.check(t, f, resp, body)
			}
			if resp.StatusCode < 300 {
				return
			}
			if eb.Error.Message == "" || !strings.Contains(eb.Error.Message, c.field) {
				t.Errorf("message %q does not name %q", eb.Error.Message, c.field)
			}
			for _, v := range []string{patientName, idNumber, otherID, "MZ2", "内"} {
				if strings.Contains(string(body), v) {
					t.Errorf("the answer quotes the caller's %q: %s", v, body)
				}
			}
			if f.journal.Writes != 0 || len(f.platform.Calls()) != 0 {
				t.Errorf("a refused request wrote the journal %d times and sent %d requests", f.journal.Writes, len(f.platform.Calls()))
			}
		})
	}
}

// chineseRoundTrip checks that a settlement's Chinese text is stored as
// it was meant, whatever charset it came in.
func chineseRoundTrip(t *testing.T, f *fixture, resp *http.Response, _ []byte) {
	t.Helper()
	_, body := f.doRaw(t, "GET", resp.Header.Get("Location")+"?reveal=true", "", nil)
	var v struct {
		Patient  struct{ Name string } `json:"patient"`
		Operator struct{ Name string } `json:"operator"`
		Bill     struct {
			DeptName   string `json:"dept_name"`
			DoctorName string `json:"doctor_name"`
			Items      []struct{ Name string }
		} `json:"bill"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	got := []string{v.Patient.Name, v.Operator.Name, v.Bill.DeptName, v.Bill.DoctorName, v.Bill.Items[0].Name}
	want := []string{"陈建国", "李收费", "内科", "王医生", "阿莫西林胶囊"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("stored %q; want %q", got, want)
	}
}

func allow(methods ...string) func(t *testing.T, f *fixture, resp *http.Response, _ []byte) {
	return func(t *testing.T, _ *fixture, resp *http.Response, _ []byte) {
		t.Helper()
		got := resp.Header.Get("Allow")
		for _, m := range methods {
			if !strings.Contains(got, m) {
				t.Errorf("Allow %q; want %s in it", got, m)
			}
		}
	}
}
