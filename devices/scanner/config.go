package scanner

import (
	"slices"
	"strings"
	"time"
)

// Parity is the serial parity setting.
type Parity string

// The parities a scanner may use.
const (
	ParityNone Parity = "none"
	ParityOdd  Parity = "odd"
	ParityEven Parity = "even"
)

// Config is one serial scanner: how to reach it and how it frames codes.
// Start from DefaultConfig and set Port.
type Config struct {
	// Port is the device: /dev/ttyUSB0, COM3, or a stable name such as
	// /dev/scanner that a udev rule points at the scanner.
	Port     string `toml:"port"`
	Baud     int    `toml:"baud"`
	DataBits int    `toml:"data_bits"` // 5 to 8
	Parity   Parity `toml:"parity"`
	StopBits int    `toml:"stop_bits"` // 1 or 2
	// ReadTimeout is how long one read waits for a byte. It bounds how
	// long Scan takes to notice that its context ended or that the port
	// vanished, because a blocked serial read cannot be interrupted.
	ReadTimeout time.Duration `toml:"read_timeout"`
	Framing
	// ReopenMin and ReopenMax bound Run's wait before reopening a port
	// that failed: it starts at ReopenMin and doubles up to ReopenMax.
	ReopenMin time.Duration `toml:"reopen_min"`
	ReopenMax time.Duration `toml:"reopen_max"`
}

// DefaultConfig is 9600 baud, 8 data bits, no parity, 1 stop bit (what
// kiosk scanners ship with), the DefaultFraming, and a port checked every
// 200 ms.
func DefaultConfig() Config {
	return Config{
		Baud:        9600,
		DataBits:    8,
		Parity:      ParityNone,
		StopBits:    1,
		ReadTimeout: 200 * time.Millisecond,
		Framing:     DefaultFraming(),
		ReopenMin:   250 * time.Millisecond,
		ReopenMax:   5 * time.Second,
	}
}

// bauds are the rates every platform's serial driver accepts.
var bauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// The serial driver counts a read timeout in tenths of a second, in one
// byte.
const (
	minReadTimeout = 100 * time.Millisecond
	maxReadTimeout = 25500 * time.Millisecond
)

// Validate reports the first field that is wrong, by its key in the
// configuration file.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Port) == "" {
		return invalid("port", "empty (write e.g. /dev/ttyUSB0, /dev/scanner or COM3)")
	}
	if !slices.Contains(bauds, c.Baud) {
		return invalid("baud", "%d is not a standard rate (one of %v)", c.Baud, bauds)
	}
	if c.DataBits < 5 || c.DataBits > 8 {
		return invalid("data_bits", "%d is outside 5..8", c.DataBits)
	}
	switch c.Parity {
	case ParityNone, ParityOdd, ParityEven:
	default:
		return invalid("parity", "%q is not one of none, odd, even", string(c.Parity))
	}
	if c.StopBits != 1 && c.StopBits != 2 {
		return invalid("stop_bits", "%d is not 1 or 2", c.StopBits)
	}
	if c.ReadTimeout < minReadTimeout || c.ReadTimeout > maxReadTimeout {
		return invalid("read_timeout", "%s is outside %s..%s", c.ReadTimeout, minReadTimeout, maxReadTimeout)
	}
	if err := c.Framing.Validate(); err != nil {
		return err
	}
	if c.ReopenMin <= 0 {
		return invalid("reopen_min", "%s is not positive", c.ReopenMin)
	}
	if c.ReopenMax < c.ReopenMin {
		return invalid("reopen_max", "%s is shorter than reopen_min (%s)", c.ReopenMax, c.ReopenMin)
	}
	return nil
}
