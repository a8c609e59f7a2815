package scanner

import (
	"errors"
	"fmt"
)

// Sentinel errors of the scanner. Callers test them with errors.Is; the
// wrapped detail says which port or which field.
var (
	// ErrInvalidConfig wraps every configuration mistake; the message
	// names the field (its key in the configuration file).
	ErrInvalidConfig = errors.New("invalid scanner configuration")
	// ErrOpen: the port could not be opened (not plugged in yet, no
	// permission, not a serial device). Run retries it.
	ErrOpen = errors.New("cannot open scanner port")
	// ErrUnplugged: the port failed or vanished while it was being read,
	// which is what unplugging the scanner looks like. Run reopens it.
	ErrUnplugged = errors.New("scanner unplugged")
	// ErrBusy: Scan was called while another Scan (or Run) of the same
	// scanner was reading its port.
	ErrBusy = errors.New("scanner is already being read")
)

// ConfigError is a configuration mistake in one field. It matches
// ErrInvalidConfig with errors.Is.
type ConfigError struct {
	Field  string // the key in the configuration file, e.g. "baud"
	Reason string // what is wrong and what would be right
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("scanner: %s: %s", e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func invalid(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
