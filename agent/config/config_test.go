package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed-a859fada/medterm/agent/config"
)

func TestShippedDefaultConfigLoads(t *testing.T) {
	c, err := config.Load("../../packaging/medterm.toml")
	if err != nil {
		t.Fatalf("the packaged config must load as shipped: %v", err)
	}
	if c.Terminal.Slot != 1 || c.Platform.RetryWindow.Seconds() != 30 || c.API.EventBuffer != config.Default().API.EventBuffer {
		t.Fatalf("unexpected values: %+v", c)
	}
}

func TestLoadRejectsMistakesByName(t *testing.T) {
	base, err := os.ReadFile("../../packaging/medterm.toml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown key", `slot = 1 `, "slot = 1\nslots = 2\n", "unknown key terminal.slots"},
		{"unknown section", `[log]`, "[logging]\nx=1\n[log]", "unknown key logging"},
		{"slot out of range", `slot = 1 `, `slot = 100 `, "terminal.slot 100"},
		{"short institution code", `code = "H44190000001"`, `code = "H4419"`, "institution.code"},
		{"plain duration", `attempt_timeout = "10s"`, `attempt_timeout = 10`, "attempt_timeout"},
		{"bad duration", `retry_window = "30s"`, `retry_window = "thirty"`, "not a duration"},
		{"bad url", `url = "https://platform.example.invalid/medins"`, `url = "ftp://x"`, "platform.url"},
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
			p := filepath.Join(t.TempDir(), "medterm.toml")
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(p)
			if !errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load = %v; want an error naming %q", err, c.want)
			}
		})
	}
}

func TestRelativePathsAreRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.toml")
	body := `[platform]
url = "http://127.0.0.1:1"
secrets_file = "secrets.json"
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
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Journal.Path != filepath.Join(dir, "j.db") || c.Platform.SecretsFile != filepath.Join(dir, "secrets.json") {
		t.Fatalf("paths not resolved: %+v", c)
	}
}
