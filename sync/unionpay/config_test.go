package unionpay

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestConfigValidationNamesTheField(t *testing.T) {
	base := newRig(t, nil).cfg
	badKey := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(badKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(c *Config){
		"payment.url":              func(c *Config) { c.URL = "http://payments.example/gateway/api" },
		"payment.url ":             func(c *Config) { c.URL = "ftp://payments.example" },
		"payment.merchant_id":      func(c *Config) { c.MerchantID = "8984401481" },
		"payment.tr_id":            func(c *Config) { c.TokenRequestor = "" },
		"payment.key_file":         func(c *Config) { c.KeyFile = "" },
		"payment.key_file ":        func(c *Config) { c.KeyFile = badKey },
		"payment.channel_key_file": func(c *Config) { c.ChannelKeyFile = c.KeyFile },
		"payment.attempts":         func(c *Config) { c.Attempts = 11 },
	} {
		c := base
		mutate(&c)
		err := c.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), strings.TrimSpace(field)) {
			t.Errorf("%s: %v", field, err)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("the rig's own configuration: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("a disabled section is not checked: %v", err)
	}
	if _, err := New(Config{}, Options{}); !errors.Is(err, ErrDisabled) {
		t.Errorf("New of a disabled section: %v", err)
	}
}

func TestAKeyFileOthersCanReadIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits on Windows")
	}
	c := newRig(t, nil).cfg
	if err := os.Chmod(c.KeyFile, 0o640); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "payment.key_file") || !strings.Contains(err.Error(), "0640") {
		t.Fatalf("err %v", err)
	}
}

func TestConfigReadsTheDesignsNames(t *testing.T) {
	var doc struct {
		Payment Config `toml:"payment"`
	}
	md, err := toml.Decode(`
[payment]
url = "https://payments.example/gateway/api"
merchant_id = "898440148160001"
key_file = "/etc/medterm/payment.key"
channel_key_file = "/etc/medterm/channel.pub"
tr_id = "62000000001"
enabled = true
attempt_timeout = "5s"
`, &doc)
	if err != nil || len(md.Undecoded()) > 0 {
		t.Fatalf("%v, undecoded %v", err, md.Undecoded())
	}
	if doc.Payment.MerchantID != "898440148160001" || doc.Payment.AttemptTimeout.Seconds() != 5 || !doc.Payment.Enabled {
		t.Fatalf("decoded %+v", doc.Payment)
	}
}
