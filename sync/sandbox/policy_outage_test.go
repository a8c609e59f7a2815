package sandbox_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

func TestPolicyParameters(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	all := ok[protocol.PolicyOutput](h, "E002", protocol.PolicyInput{}).Data
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(all.Version) {
		t.Fatalf("version %q is not 12 hex digits", all.Version)
	}
	want := protocol.Policy{
		Version: all.Version,
		Insurance: []protocol.InsurancePolicy{
			{Insutype: "310", Deductible: 50000, RatioPct: 70, YearCap: 800000},
			{Insutype: "390", Deductible: 30000, RatioPct: 50, YearCap: 400000},
		},
		ClassBSelfPayPct: 10, LimitPerTxn: 30000, LimitDaily: 100000,
	}
	if !equalJSON(t, all, want) {
		t.Fatalf("E002\n%s\nwant\n%s", jsonOf(t, all), jsonOf(t, want))
	}
	one := ok[protocol.PolicyOutput](h, "E002", protocol.PolicyInput{Data: protocol.PolicyQuery{Insutype: "390"}}).Data
	if len(one.Insurance) != 1 || one.Insurance[0] != want.Insurance[1] || one.Version != all.Version {
		t.Fatalf("E002 for 390: %+v", one)
	}
	refused(t, h.call("E002", protocol.PolicyInput{Data: protocol.PolicyQuery{Insutype: "999"}}), protocol.CodeBadRequest)

	h.reopen()
	h.signIn()
	if again := ok[protocol.PolicyOutput](h, "E002", protocol.PolicyInput{}).Data; again.Version != all.Version {
		t.Fatalf("version %q after a restart, was %q", again.Version, all.Version)
	}

	versionWith := func(edit func(d *personas.Dataset)) string {
		d, err := personas.Default()
		if err != nil {
			t.Fatal(err)
		}
		edit(d)
		h := newHarnessWith(t, d)
		h.signIn()
		return ok[protocol.PolicyOutput](h, "E002", protocol.PolicyInput{}).Data.Version
	}
	if v := versionWith(func(d *personas.Dataset) { d.People[0].AccountBalance++ }); v != all.Version {
		t.Errorf("a change outside the policy changed the version: %s, was %s", v, all.Version)
	}
	for name, edit := range map[string]func(d *personas.Dataset){
		"a ratio": func(d *personas.Dataset) {
			p := d.Policy.Insurance["310"]
			p.RatioPct = 75
			d.Policy.Insurance["310"] = p
		},
		"a limit": func(d *personas.Dataset) { d.Policy.LimitDaily += 1 },
		"a deductible": func(d *personas.Dataset) {
			p := d.Policy.Insurance["390"]
			p.Deductible -= 1
			d.Policy.Insurance["390"] = p
		},
	} {
		if v := versionWith(edit); v == all.Version {
			t.Errorf("changing %s kept the version %s", name, v)
		}
	}
}

// admin sends an admin request and returns the status and body.
func (h *harness) admin(method, path, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestAnOutageDropsEveryTransactionUnanswered(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	query := personQuery(h.person("acct-first").Certno)
	output[protocol.PersonInfoOutput](t, h.call("1101", query))

	h.p.SetOutage(true)
	if !h.p.Outage() {
		t.Fatal("Outage() is false after SetOutage(true)")
	}
	msgid := h.nextMsgid()
	body := h.envelope("1101", msgid, query)
	res, err := h.srv.Client().Do(h.request(body, nil))
	if err == nil {
		res.Body.Close()
		t.Fatalf("a transaction during the outage got HTTP %d, want a network error", res.StatusCode)
	}
	t.Logf("client error during the outage: %v", err)
	var netErr net.Error
	if !errors.As(err, &netErr) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v (%T) is not a network error", err, err)
	}
	// The admin side still answers, and ends the outage.
	if status, body := h.admin(http.MethodGet, "/admin/outage", ""); status != 200 || !strings.Contains(body, `"down":true`) {
		t.Fatalf("GET /admin/outage: %d %s", status, body)
	}
	if status, body := h.admin(http.MethodPost, "/admin/outage", `{"down": false}`); status != 200 || !strings.Contains(body, `"down":false`) {
		t.Fatalf("POST /admin/outage: %d %s", status, body)
	}
	// The dropped request was never processed: its msgid is fresh.
	if resp := h.callAs("1101", msgid, query); resp.Infcode != protocol.InfcodeOK || resp.WarnMsg == protocol.CodeDuplicate {
		t.Fatalf("after the outage: %+v", resp)
	}
	if status, _ := h.admin(http.MethodPost, "/admin/outage", `{"down": true}`); status != 200 || !h.p.Outage() {
		t.Fatal("POST /admin/outage did not start an outage")
	}
	for _, bad := range []string{``, `{}`, `{"down": "yes"}`, `{"down": true, "for": 5}`} {
		if status, _ := h.admin(http.MethodPost, "/admin/outage", bad); status != http.StatusBadRequest {
			t.Errorf("POST /admin/outage %q: %d, want 400", bad, status)
		}
	}
	if !h.p.Outage() {
		t.Error("a refused admin request changed the switch")
	}
}
