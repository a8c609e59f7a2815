package journal

import (
	"errors"
	"reflect"
	"testing"

	"github.com/seed-a859fada/medterm/agent"
)

func TestPersonalFieldsRoundTripInTheirCompactLayout(t *testing.T) {
	for _, p := range []agent.Personal{
		{},
		{CertNo: "11010519491231002X", IDNo: "11010519491231002X", Name: "张三", CardSN: "D44010600", PsnNo: "44000000000000000001", AccountNo: "6217000000000000025"},
		{CertNo: "ec-code-text", IDNo: "11010519491231002X", Token: "tok"},
		{IDNo: "11010519491231002X"},
	} {
		b := encodePersonal(p)
		var got agent.Personal
		if err := decodePersonal(b, &got); err != nil || got != p {
			t.Errorf("%+v: read back %+v, %v", p, got, err)
		}
	}
	// The ID number given as the certificate is stored once.
	same := agent.Personal{CertNo: "11010519491231002X", IDNo: "11010519491231002X"}
	if n := len(encodePersonal(same)); n != 1+1+18+1+5 {
		t.Errorf("the ID number as certificate takes %d bytes, want it once", n)
	}
}

func TestPersonalFieldsOfOlderRecordsAreReadAsJSON(t *testing.T) {
	var got agent.Personal
	if err := decodePersonal([]byte(`{"cert_no":"A1","id_no":"B2","name":"李四"}`), &got); err != nil ||
		got != (agent.Personal{CertNo: "A1", IDNo: "B2", Name: "李四"}) {
		t.Errorf("JSON personal fields: %+v, %v", got, err)
	}
}

func TestMalformedPersonalFieldsAreRefusedAndChangeNothing(t *testing.T) {
	good := encodePersonal(agent.Personal{CertNo: "A1", Name: "王五"})
	for name, b := range map[string][]byte{
		"empty":               {},
		"unknown layout":      {0x07, 0, 0},
		"cut short":           good[:len(good)-2],
		"trailing bytes":      append(append([]byte(nil), good...), 'x'),
		"length past the end": {personalV1, 0x7f},
	} {
		p := agent.Personal{Name: "unchanged"}
		if err := decodePersonal(b, &p); !errors.Is(err, errPersonal) || p.Name != "unchanged" {
			t.Errorf("%s: %v, %+v", name, err, p)
		}
	}
}

// The layout names every field of agent.Personal: one added there must
// be added here, under a new version, or it would be lost at rest.
func TestThePersonalLayoutHoldsEveryPersonalField(t *testing.T) {
	var p agent.Personal
	if n, got := reflect.TypeOf(p).NumField(), len(personalFields(&p)); n != got {
		t.Fatalf("agent.Personal has %d fields, the layout %d", n, got)
	}
}
