package config_test

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

const shipped = "../../packaging/medterm.toml"

func TestShippedDefaultConfigLoads(t *testing.T) {
	c, err := config.Load(shipped)
	if err != nil {
		t.Fatalf("the packaged config must load as shipped: %v", err)
	}
	if c.Terminal.Slot != 1 || c.Insurance.RetryWindow.Seconds() != 30 || c.API.EventBuffer != config.Default().API.EventBuffer {
		t.Fatalf("unexpected values: %+v", c)
	}
	in := c.Insurance
	if in.Auth != "tif" || in.PaasID != "H44190000001" || in.TokenFile != "/etc/medterm/insurance.token" || in.Infver != "V1.0" || in.RecerSysCode == "" {
		t.Fatalf("[insurance] as shipped: %+v", in)
	}
	p := c.Payment
	if p.Enabled || p.MerchantID != "898440148160001" || p.TokenRequestor != "62000000001" || p.AttemptTimeout != 10*time.Second ||
		p.Attempts != 3 || p.ResendDelay != time.Second || p.KeyFile != "/etc/medterm/payment.key" {
		t.Fatalf("[payment] as shipped: %+v", p)
	}
	if c.EVoucher.URL != "" {
		t.Fatalf("[evoucher] as shipped: %+v", c.EVoucher)
	}
}

// TestShippedConfigIsTheDefaults pins the template to the code: every
// value the template gives is the default, but for the examples a
// hospital must replace (the gateway, the institution, the terminal).
func TestShippedConfigIsTheDefaults(t *testing.T) {
	c, err := config.Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	if c.Insurance.AttemptTimeout != d.Insurance.AttemptTimeout || c.Insurance.RetryWindow != d.Insurance.RetryWindow ||
		c.Insurance.ConnectWindow != d.Insurance.ConnectWindow || c.Insurance.Auth != d.Insurance.Auth || c.Insurance.Infver != d.Insurance.Infver {
		t.Errorf("[insurance] timeouts or profile differ from the defaults: %+v, defaults %+v", c.Insurance, d.Insurance)
	}
	pd := d.Payment.WithDefaults()
	if c.Payment.AttemptTimeout != pd.AttemptTimeout || c.Payment.Attempts != pd.Attempts || c.Payment.ResendDelay != pd.ResendDelay || c.Payment.Enabled != pd.Enabled {
		t.Errorf("[payment] differs from the defaults: %+v, defaults %+v", c.Payment, pd)
	}
	if c.API.Addr != d.API.Addr || c.API.EventBuffer != d.API.EventBuffer || c.API.TokenFile != d.API.TokenFile {
		t.Errorf("[api] differs from the defaults: %+v", c.API)
	}
}

// TestShippedErrMsgExampleIsTheDefault uncomments the template's
// [insurance.err_msg] and checks that it says what the code does without
// it.
func TestShippedErrMsgExampleIsTheDefault(t *testing.T) {
	base, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	on := false
	for _, l := range strings.Split(string(base), "\n") {
		switch {
		case l == "# [insurance.err_msg]":
			on = true
		case on && !strings.HasPrefix(l, "# "):
			on = false
		}
		if on && !strings.HasPrefix(l, "# [insurance.infcodes]") && !strings.HasPrefix(l, `# "-2"`) {
			l = strings.TrimPrefix(l, "# ")
		}
		lines = append(lines, l)
	}
	p := writeFile(t, t.TempDir(), "medterm.toml", strings.Join(lines, "\n"), 0o600)
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Insurance.ErrMsg == nil {
		t.Fatal("the template has no [insurance.err_msg] example to uncomment")
	}
	if got, want := *c.Insurance.ErrMsg, protocol.DefaultPatterns(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the template's err_msg example\n%+v\nis not the default\n%+v", got, want)
	}
}

func TestLoadRejectsMistakesByName(t *testing.T) {
	base, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown key", `slot = 1 `, "slot = 1\nslots = 2\n", "unknown key terminal.slots"},
		{"unknown section", `[log]`, "[logging]\nx=1\n[log]", "unknown key logging"},
		{"the old platform section", `[insurance]`, "[platform]\nsecrets_file = \"s.json\"\n[insurance]", "unknown key platform, platform.secrets_file ([platform] is gone: the gateway is [insurance]"},
		{"unknown insurance key", `paasid = "H44190000001"`, "paasid = \"H44190000001\"\ntoken = \"x\"", "unknown key insurance.token"},
		{"unknown payment key", `attempts = 3`, "attempts = 3\nretries = 2", "unknown key payment.retries"},
		{"unknown evoucher key", `[evoucher]`, "[evoucher]\nport = 1", "unknown key evoucher.port"},
		{"slot out of range", `slot = 1 `, `slot = 100 `, "terminal.slot 100"},
		{"short institution code", `code = "H44190000001"`, `code = "H4419"`, "institution.code"},
		{"plain duration", `attempt_timeout = "10s"`, `attempt_timeout = 10`, "attempt_timeout"},
		{"bad duration", `retry_window = "30s"`, `retry_window = "thirty"`, "not a duration"},
		{"no insurance url", `url = "https://gateway.example.invalid/fsi/api/rsfComIfsService/callService"`, `url = ""`, "insurance.url is required"},
		{"bad insurance url", `url = "https://gateway.example.invalid/fsi/api/rsfComIfsService/callService"`, `url = "ftp://x"`, "insurance.url"},
		{"plain http to another machine", `url = "https://gateway.example.invalid/fsi/api/rsfComIfsService/callService"`, `url = "http://10.1.2.3/fsi"`, "insurance.url"},
		{"bad auth", `auth = "tif"`, `auth = "basic"`, `insurance.auth "basic"`},
		{"tif without paasid", `paasid = "H44190000001"`, `paasid = ""`, "insurance.paasid is required with auth tif"},
		{"tif without token file", `token_file = "/etc/medterm/insurance.token"`, `token_file = ""`, "insurance.token_file is required with auth tif"},
		{"oauth_sm without its keys", `auth = "tif"`, `auth = "oauth_sm"`, "insurance.token_url is required with auth oauth_sm"},
		{"no receiving system", `recer_sys_code = "MBS_LOCAL"`, `recer_sys_code = ""`, "insurance.recer_sys_code"},
		{"bad err_msg pattern", `# [insurance.err_msg]`, "[insurance.err_msg]\nsign_in = [\"(\"]", "insurance.err_msg"},
		{"zero insurance timeout", `connect_window = "3s"`, `connect_window = "0s"`, "insurance.attempt_timeout, retry_window and connect_window"},
		{"payment enabled without its keys", "enabled = false\n# The channel's", "enabled = true\n# The channel's", "payment.key_file: stat /etc/medterm/payment.key"},
		{"payment disabled: its url is not checked", `url = "https://payments.example.invalid/gateway/api"`, `url = "http://payments.example.invalid/gateway/api"`, ""},
		{"payment: bad duration", `resend_delay = "1s"`, `resend_delay = "soon"`, "soon"},
		{"bad evoucher url", `url = ""                    # e.g. "http://127.0.0.1`, `url = "127.0.0.1:18080" # e.g. "http://127.0.0.1`, "evoucher.url"},
		{"bad origin", `origins = []`, `origins = ["his.local"]`, "api.origins"},
		{"no event buffer", `event_buffer = 1024`, `event_buffer = 0`, "api.event_buffer 0"},
		{"huge event buffer", `event_buffer = 1024`, `event_buffer = 10000000`, "api.event_buffer 10000000"},
		{"bad log level", `level = "info"`, `level = "loud"`, "log.level"},
		{"not toml", `[api]`, `[api`, "medterm.toml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := strings.Replace(string(base), c.from, c.to, 1)
			if text == string(base) {
				t.Fatalf("test case did not change the file: %q not found", c.from)
			}
			if c.want == "" { // a disabled section is not checked further
				p := writeFile(t, t.TempDir(), "medterm.toml", text, 0o600)
				if _, err := config.Load(p); err != nil {
					t.Fatalf("Load = %v; want the disabled section's fields left alone", err)
				}
				return
			}
			p := writeFile(t, t.TempDir(), "medterm.toml", text, 0o600)
			_, err := config.Load(p)
			if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v; want an error naming %q", err, c.want)
			}
		})
	}
}

// minimal is a configuration with only what has no default.
const minimal = `[insurance]
url = "http://127.0.0.1:1/fsi/api/rsfComIfsService/callService"
paasid = "H44190000001"
token_file = "insurance.token"
recer_sys_code = "MBS_LOCAL"
[institution]
code = "H44190000001"
name = "x"
region = "441900"
[terminal]
id = "T1"
slot = 0
[journal]
path = "j.db"
key_file = "j.key"
[api]
token_file = "tok"
`

// paymentSection enables the channel with the key files named.
func paymentSection(key, channel string) string {
	return `[payment]
enabled = true
url = "http://127.0.0.1:2/gateway/api"
merchant_id = "898440148160001"
tr_id = "62000000001"
key_file = "` + key + `"
channel_key_file = "` + channel + `"
`
}

// writeKeys writes a merchant private key (mode) and a channel public key
// in PEM into dir.
func writeKeys(t *testing.T, dir string, mode os.FileMode) (key, channel string) {
	t.Helper()
	merchant, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := acp.MarshalPrivateKey(merchant)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := acp.MarshalPublicKey(&ch.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "payment.key", string(priv), mode), writeFile(t, dir, "channel.pub", string(pub), 0o644)
}

func writeFile(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestRelativePathsAreRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	writeKeys(t, dir, 0o600)
	p := writeFile(t, dir, "m.toml", minimal+paymentSection("payment.key", "channel.pub"), 0o600)
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]string{
		"journal.path": c.Journal.Path, "insurance.token_file": c.Insurance.TokenFile,
		"payment.key_file": c.Payment.KeyFile, "payment.channel_key_file": c.Payment.ChannelKeyFile,
	} {
		if !filepath.IsAbs(got) || filepath.Dir(got) != dir {
			t.Errorf("%s = %q; want it in %s", what, got, dir)
		}
	}
	if !c.Payment.Enabled || c.Payment.Attempts != 0 || c.Payment.WithDefaults().Attempts != 3 {
		t.Errorf("[payment] %+v: enabled, its defaults applied by the adapter", c.Payment)
	}
}

func TestPaymentKeysAreCheckedWhenTheDaemonLoads(t *testing.T) {
	cases := []struct {
		name string
		keys func(t *testing.T, dir string) (key, channel string)
		want string
	}{
		{"a private key readable by the group", func(t *testing.T, dir string) (string, string) {
			return writeKeys(t, dir, 0o640)
		}, "payment.key_file"},
		{"no private key", func(t *testing.T, dir string) (string, string) {
			_, ch := writeKeys(t, dir, 0o600)
			return filepath.Join(dir, "missing.key"), ch
		}, "payment.key_file"},
		{"a private key that is not PEM", func(t *testing.T, dir string) (string, string) {
			_, ch := writeKeys(t, dir, 0o600)
			return writeFile(t, dir, "bad.key", "not a key\n", 0o600), ch
		}, "payment.key_file"},
		{"the channel's key missing", func(t *testing.T, dir string) (string, string) {
			k, _ := writeKeys(t, dir, 0o600)
			return k, filepath.Join(dir, "missing.pub")
		}, "payment.channel_key_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			key, ch := c.keys(t, dir)
			p := writeFile(t, dir, "m.toml", minimal+paymentSection(key, ch), 0o600)
			_, err := config.Load(p)
			if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v; want an error naming %q", err, c.want)
			}
			// The message names the field once, not the adapter's prefix.
			if strings.Contains(err.Error(), "payment channel configuration") {
				t.Errorf("Load = %v; the adapter's prefix repeats what the field says", err)
			}
			// The commands that only talk to the daemon never read the
			// daemon's keys, which window staff cannot.
			if _, err := config.LoadForClient(p); err != nil {
				t.Fatalf("LoadForClient = %v; want the keys left to the daemon", err)
			}
		})
	}
}

func TestPaymentFieldsAreNamed(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"merchant id", `merchant_id = "898440148160001"`, `merchant_id = "8984"`, `payment.merchant_id "8984"`},
		{"token requestor", `tr_id = "62000000001"`, `tr_id = "6200"`, `payment.tr_id "6200"`},
		{"plain http to another machine", `url = "http://127.0.0.1:2/gateway/api"`, `url = "http://10.1.2.3/gateway/api"`, "payment.url"},
		{"no url", `url = "http://127.0.0.1:2/gateway/api"`, `url = ""`, "payment.url"},
		{"too many attempts", "enabled = true\n", "enabled = true\nattempts = 11\n", "payment.attempts 11"},
		{"a negative delay", "enabled = true\n", "enabled = true\nresend_delay = \"-1s\"\n", "payment.resend_delay"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			key, ch := writeKeys(t, dir, 0o600)
			body := minimal + paymentSection(key, ch)
			changed := strings.Replace(body, c.from, c.to, 1)
			if changed == body {
				t.Fatalf("%q not found", c.from)
			}
			_, err := config.Load(writeFile(t, dir, "m.toml", changed, 0o600))
			if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v; want an error naming %q", err, c.want)
			}
		})
	}
}

func TestLoadForClientIsAsStrict(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "m.toml", minimal+"[payment]\nenabled = true\nmerchantid = \"x\"\n", 0o600)
	if _, err := config.LoadForClient(p); err == nil || !strings.Contains(err.Error(), "unknown key payment.merchantid") {
		t.Fatalf("LoadForClient = %v; want the unknown key named", err)
	}
	p = writeFile(t, dir, "m.toml", strings.Replace(minimal, `slot = 0`, `slot = 100`, 1), 0o600)
	if _, err := config.LoadForClient(p); err == nil || !strings.Contains(err.Error(), "terminal.slot") {
		t.Fatalf("LoadForClient = %v; want the field named", err)
	}
}
