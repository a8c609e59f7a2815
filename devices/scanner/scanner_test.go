package scanner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	cases := []struct {
		field string
		mut   func(*Config)
	}{
		{"port", func(c *Config) { c.Port = " " }},
		{"baud", func(c *Config) { c.Baud = 9601 }},
		{"baud", func(c *Config) { c.Baud = 0 }},
		{"data_bits", func(c *Config) { c.DataBits = 9 }},
		{"data_bits", func(c *Config) { c.DataBits = 4 }},
		{"parity", func(c *Config) { c.Parity = "mark" }},
		{"stop_bits", func(c *Config) { c.StopBits = 0 }},
		{"read_timeout", func(c *Config) { c.ReadTimeout = 0 }},
		{"read_timeout", func(c *Config) { c.ReadTimeout = 50 * time.Millisecond }},
		{"read_timeout", func(c *Config) { c.ReadTimeout = 26 * time.Second }},
		{"terminator", func(c *Config) { c.Terminator = "NUL" }},
		{"aim", func(c *Config) { c.AIM = "" }},
		{"max_len", func(c *Config) { c.MaxLen = -1 }},
		{"dedupe", func(c *Config) { c.Dedupe = -1 }},
		{"reopen_min", func(c *Config) { c.ReopenMin = 0 }},
		{"reopen_max", func(c *Config) { c.ReopenMax = c.ReopenMin - 1 }},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		c.Port = "/dev/ttyUSB0"
		tc.mut(&c)
		_, err := New(c, Options{})
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want a ConfigError for %q", tc.field, err, tc.field)
			continue
		}
		if !strings.HasPrefix(err.Error(), "scanner: "+tc.field+": ") {
			t.Errorf("message %q does not lead with the field", err)
		}
	}
}

func TestConfigDefaultsAreValidOnceThePortIsSet(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err == nil {
		t.Fatal("default config without a port validated")
	}
	for _, p := range []Parity{ParityNone, ParityOdd, ParityEven} {
		c.Port, c.Parity, c.StopBits, c.DataBits = "COM3", p, 2, 7
		if err := c.Validate(); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
	}
}

// testConfig is a valid configuration for port, quick to notice a
// cancelled context, that sends every read unless told otherwise.
func testConfig(port string, mut func(*Config)) Config {
	c := DefaultConfig()
	c.Port = port
	c.ReadTimeout = 100 * time.Millisecond
	c.Dedupe = 0
	if mut != nil {
		mut(&c)
	}
	return c
}

// scriptedPort answers reads from a script, then with its last answer.
type scriptedPort struct {
	reads []scriptedRead
}

type scriptedRead struct {
	data string
	err  error
}

func (p *scriptedPort) Read(b []byte) (int, error) {
	r := p.reads[0]
	if len(p.reads) > 1 {
		p.reads = p.reads[1:]
	}
	return copy(b, r.data), r.err
}

// readScript runs the read loop of a scanner whose port path is a plain
// file (so that it never seems to move) over a scripted port.
func readScript(t *testing.T, reads ...scriptedRead) ([]string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ttyS0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(testConfig(path, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := identify(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Code, 16)
	err = s.read(context.Background(), &scriptedPort{reads: reads}, id, out)
	close(out)
	var got []string
	for c := range out {
		got = append(got, c.Text)
	}
	return got, err
}

func TestSerialReadTreatsImmediateEndsOfFileAsAHangUp(t *testing.T) {
	// A tty whose device was removed answers every read at once with
	// nothing, where a quiet port waits for the read timeout.
	got, err := readScript(t, scriptedRead{data: "HQR0001\r"}, scriptedRead{err: io.EOF})
	if !errors.Is(err, ErrUnplugged) || !strings.Contains(err.Error(), "hung up") {
		t.Fatalf("err = %v, want ErrUnplugged: hung up", err)
	}
	if len(got) != 1 || got[0] != "HQR0001" {
		t.Fatalf("codes before the hang-up = %q", got)
	}
}

func TestSerialReadReportsADriverErrorAsUnplugged(t *testing.T) {
	got, err := readScript(t, scriptedRead{data: "A1\rA2\r", err: nil}, scriptedRead{data: "A3\r", err: syscall.EIO})
	if !errors.Is(err, ErrUnplugged) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("err = %v, want ErrUnplugged wrapping EIO", err)
	}
	if strings.Join(got, ",") != "A1,A2,A3" {
		t.Fatalf("codes = %q, want every code read before the failure", got)
	}
}

func TestConfigReadsFromTheConfigurationFile(t *testing.T) {
	c := DefaultConfig()
	md, err := toml.Decode(`
port = "/dev/scanner"
baud = 115200
data_bits = 7
parity = "even"
stop_bits = 2
read_timeout = "300ms"
terminator = "CRLF"
aim = "require"
max_len = 512
dedupe = "1500ms"
reopen_min = "1s"
reopen_max = "30s"
`, &c)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("keys not taken: %v", u)
	}
	want := Config{
		Port: "/dev/scanner", Baud: 115200, DataBits: 7, Parity: ParityEven, StopBits: 2,
		ReadTimeout: 300 * time.Millisecond,
		Framing:     Framing{Terminator: CRLF, AIM: AIMRequire, MaxLen: 512, Dedupe: 1500 * time.Millisecond},
		ReopenMin:   time.Second, ReopenMax: 30 * time.Second,
	}
	if c != want {
		t.Fatalf("decoded %+v\nwant    %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
