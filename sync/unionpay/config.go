package unionpay

import (
	"crypto/ecdsa"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Config is the [payment] section of the agent's configuration. The names
// are fixed by the design (COUNTERPARTIES.md) so that hospital IT and tests
// can rely on them; the fields after Enabled are this adapter's additions.
//
//	[payment]
//	url = "https://payments.example/gateway/api"
//	merchant_id = "898440148160001"
//	key_file = "/etc/medterm/payment.key"            # the merchant's SM2 key
//	channel_key_file = "/etc/medterm/channel.pub"    # the channel's SM2 public key(s)
//	tr_id = "62000000001"                            # the token requestor id
//	enabled = true
type Config struct {
	// URL is the channel's base URL; the ACP paths (backTransReq.do,
	// queryTrans.do, ...) are joined to it. HTTPS, or plain HTTP to a
	// loopback address (a local sandbox).
	URL string `toml:"url"`
	// MerchantID is merId: 15 letters or digits.
	MerchantID string `toml:"merchant_id"`
	// KeyFile holds the merchant's SM2 private key as PEM PKCS #8
	// ("PRIVATE KEY"), e.g. from `openssl genpkey -algorithm SM2`. It must
	// not be readable by group or others.
	KeyFile string `toml:"key_file"`
	// ChannelKeyFile holds the channel's SM2 public key as PEM ("PUBLIC
	// KEY"), or several while the channel rotates its key: an answer is
	// believed if any of them verifies it. The first one also seals the
	// personal fields sent to the channel (ID numbers, card numbers).
	ChannelKeyFile string `toml:"channel_key_file"`
	// TokenRequestor is the trId of tokenPayData, 11 digits, assigned with
	// the merchant's token payment contract.
	TokenRequestor string `toml:"tr_id"`
	// Enabled false: the patient's part is always collected at the window.
	Enabled bool `toml:"enabled"`

	// AttemptTimeout bounds one HTTP exchange. Default 10s.
	AttemptTimeout time.Duration `toml:"attempt_timeout"`
	// Attempts bounds how often one request is sent when its answer is
	// lost (the same orderId and txnTime every time, which the channel
	// answers once). Default 3, at most 10.
	Attempts int `toml:"attempts"`
	// ResendDelay is the pause before a resend. Default 1s.
	ResendDelay time.Duration `toml:"resend_delay"`
}

// Defaults.
const (
	DefaultAttemptTimeout = 10 * time.Second
	DefaultAttempts       = 3
	DefaultResendDelay    = time.Second
	maxAttempts           = 10
)

// WithDefaults returns c with zero durations and counts set to the
// defaults.
func (c Config) WithDefaults() Config {
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.ResendDelay == 0 {
		c.ResendDelay = DefaultResendDelay
	}
	return c
}

// Validate checks the section and names the first field at fault. A
// disabled section is not checked further: its other fields may be blank.
// The key files are read and checked here too, so that a bad key is
// reported when the agent starts, not at the first payment.
func (c Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	if _, err := parseURL(c.URL); err != nil {
		return err
	}
	if len(c.MerchantID) != 15 || !alnum(c.MerchantID) {
		return fmt.Errorf("%w: payment.merchant_id %q must be 15 letters or digits", ErrConfig, c.MerchantID)
	}
	if len(c.TokenRequestor) != 11 || !acp.Digits(c.TokenRequestor) {
		return fmt.Errorf("%w: payment.tr_id %q must be 11 digits", ErrConfig, c.TokenRequestor)
	}
	switch {
	case c.AttemptTimeout < 0:
		return fmt.Errorf("%w: payment.attempt_timeout %s is negative", ErrConfig, c.AttemptTimeout)
	case c.Attempts < 0 || c.Attempts > maxAttempts:
		return fmt.Errorf("%w: payment.attempts %d must be 1 to %d", ErrConfig, c.Attempts, maxAttempts)
	case c.ResendDelay < 0:
		return fmt.Errorf("%w: payment.resend_delay %s is negative", ErrConfig, c.ResendDelay)
	}
	if _, err := c.loadKey(); err != nil {
		return err
	}
	_, err := c.loadChannelKeys()
	return err
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: payment.url %q is not a URL", ErrConfig, s)
	}
	switch {
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%w: payment.url %q: no user, query or fragment", ErrConfig, s)
	case u.Scheme == "https":
	case u.Scheme == "http":
		if !loopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: payment.url %q: plain http is allowed only to a loopback address", ErrConfig, s)
		}
	default:
		return nil, fmt.Errorf("%w: payment.url %q: scheme must be https", ErrConfig, s)
	}
	return u, nil
}

func (c Config) loadKey() (*sm2.PrivateKey, error) {
	if c.KeyFile == "" {
		return nil, fmt.Errorf("%w: payment.key_file is not set", ErrConfig)
	}
	info, err := os.Stat(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: payment.key_file: %v", ErrConfig, err)
	}
	// The key signs debits of patients' cards: a copy readable by other
	// accounts on the terminal is a leaked key. (Windows has no such bits.)
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: payment.key_file %s is readable by group or others (mode %04o): chmod 600 it", ErrConfig, c.KeyFile, info.Mode().Perm())
	}
	data, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: payment.key_file: %v", ErrConfig, err)
	}
	k, err := acp.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: payment.key_file %s: %v", ErrConfig, c.KeyFile, err)
	}
	return k, nil
}

func (c Config) loadChannelKeys() ([]*ecdsa.PublicKey, error) {
	if c.ChannelKeyFile == "" {
		return nil, fmt.Errorf("%w: payment.channel_key_file is not set", ErrConfig)
	}
	data, err := os.ReadFile(c.ChannelKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: payment.channel_key_file: %v", ErrConfig, err)
	}
	keys, err := acp.ParsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%w: payment.channel_key_file %s: %v", ErrConfig, c.ChannelKeyFile, err)
	}
	return keys, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != ""
}
