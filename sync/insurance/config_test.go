package insurance_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/insurance"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTheDesignsSectionLoads(t *testing.T) {
	dir := t.TempDir()
	tok := writeFile(t, dir, "insurance.token", "gateway-token\n")
	cfg, err := insurance.LoadConfig(writeFile(t, dir, "medterm.toml", `
[insurance]
url = "https://gateway.example/fsi/api/callService"
auth = "tif"
paasid = "H44190000001"
token_file = "`+tok+`"
recer_sys_code = "YBXT"
infver = "V1.0"

[insurance.err_msg]
sign_in = ["会话超时"]

[insurance.infcodes]
"-2" = "sign_in"
`))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := cfg.Classifier()
	if err != nil || cl.Kind(-1, "会话超时") != protocol.KindSignIn || cl.Kind(-2, "x") != protocol.KindSignIn || cl.Kind(-1, "签到失效") != protocol.KindRefused {
		t.Fatalf("classifier from the section: %v", err)
	}
	// The other kinds keep their defaults.
	if cl.Kind(-1, "原交易不存在") != protocol.KindNotFound {
		t.Fatal("a kind not configured lost its default")
	}
	cc := client.Config{InstitutionCode: "H44190000001"}
	if err := cfg.Apply(&cc); err != nil || cc.URL != cfg.URL || cc.Profile.Name() != "tif" || cc.RecerSysCode != "YBXT" || cc.Infver != "V1.0" {
		t.Fatalf("Apply: %+v %v", cc, err)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	dir := t.TempDir()
	for field, section := range map[string]string{
		"insurance.url":            `auth = "none"` + "\n" + `recer_sys_code = "YBXT"`,
		"insurance.paasid":         `url = "https://gw.example/a"` + "\n" + `recer_sys_code = "YBXT"` + "\n" + `token_file = "t"`,
		"insurance.token_file":     `url = "https://gw.example/a"` + "\n" + `recer_sys_code = "YBXT"` + "\n" + `paasid = "P"`,
		"insurance.recer_sys_code": `url = "https://gw.example/a"` + "\n" + `auth = "none"`,
		"insurance.auth":           `url = "https://gw.example/a"` + "\n" + `recer_sys_code = "YBXT"` + "\n" + `auth = "hmac"`,
		"insurance.token_url":      `url = "https://gw.example/a"` + "\n" + `recer_sys_code = "YBXT"` + "\n" + `auth = "oauth_sm"`,
		"unknown key":              `url = "https://gw.example/a"` + "\n" + `recer_sys_code = "YBXT"` + "\n" + `auth = "none"` + "\n" + `secret = "x"`,
		"insurance.err_msg":        `url = "https://gw.example/a"` + "\n" + `recer_sys_code = "YBXT"` + "\n" + `auth = "none"` + "\n" + `[insurance.err_msg]` + "\n" + `door = ["("]`,
		"insurance.infcodes":       `url = "https://gw.example/a"` + "\n" + `recer_sys_code = "YBXT"` + "\n" + `auth = "none"` + "\n" + `[insurance.infcodes]` + "\n" + `"x" = "door"`,
	} {
		_, err := insurance.LoadConfig(writeFile(t, dir, "c.toml", "[insurance]\n"+section+"\n"))
		if !errors.Is(err, insurance.ErrConfig) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	// Plain http reaches a front-end machine on the LAN, nothing else.
	_, err := insurance.LoadConfig(writeFile(t, dir, "c.toml", "[insurance]\nurl = \"http://192.168.1.20:8080/call\"\nauth = \"none\"\nrecer_sys_code = \"MBS_LOCAL\"\n"))
	if err != nil {
		t.Fatalf("a front-end machine: %v", err)
	}
	_, err = insurance.LoadConfig(writeFile(t, dir, "c.toml", "[insurance]\nurl = \"http://192.168.1.20:8080/call\"\npaasid = \"P\"\ntoken_file = \"t\"\nrecer_sys_code = \"MBS_LOCAL\"\n"))
	if err == nil || !strings.Contains(err.Error(), "insurance.url") {
		t.Fatalf("plain http to a tif gateway: %v", err)
	}
}

func TestATokenReadableByEveryoneIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows keeps no such mode bits: its ACLs guard the file")
	}
	dir := t.TempDir()
	tok := writeFile(t, dir, "insurance.token", "gateway-token\n")
	if err := os.Chmod(tok, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := insurance.Config{URL: "https://gw.example/a", PaasID: "P", TokenFile: tok, RecerSysCode: "YBXT"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Profile(nil, nil); !errors.Is(err, insurance.ErrConfig) || !strings.Contains(err.Error(), "insurance.token_file") {
		t.Fatalf("Profile = %v", err)
	}
}
