package insurance

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/client"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// Config is the [insurance] section of the agent's configuration: how to
// reach the province's gateway and how to read its failures. Every
// per-province knob is here, not in code. Embed it in a configuration
// struct as
//
//	Insurance insurance.Config `toml:"insurance"`
//
// and call Validate after decoding. The keys:
//
//	[insurance]
//	url = "https://gateway.example/fsi/api/rsfComIfsService/callService"
//	auth = "tif"                  # tif | oauth_sm | none
//	paasid = "H44190000001"       # tif: the gateway's paasid
//	token_file = "/etc/medterm/insurance.token"   # tif: the gateway's token, one line
//	recer_sys_code = "YBXT"       # the receiving system's code
//	infver = "V1.0"               # the interface version (default V1.0)
//
//	# oauth_sm only
//	token_url = "https://gateway.example/oauth/token"
//	client_id = "medterm"
//	client_secret_file = "/etc/medterm/oauth.secret"
//	username = "H44190000001"
//	password_file = "/etc/medterm/oauth.password"
//	sign_key_file = "/etc/medterm/sm2.key"        # the institution's SM2 key (PEM)
//	platform_key_file = "/etc/medterm/platform.pub"  # the gateway's SM2 public key (PEM)
//	sm4_key_file = "/etc/medterm/sm4.key"          # 32 hex digits
//
//	# how failures read, per province (regular expressions over err_msg;
//	# each list replaces the default of its kind when given)
//	[insurance.err_msg]
//	sign_in = ["签到", "sign_no"]
//	door = ["签名", "时间戳"]
//	duplicate = ["重复", "已撤销"]
//	not_found = ["不存在", "未找到"]
//
//	# infcodes other than 0 and -1 with a fixed kind, for a gateway that
//	# uses them: sign_in, door, duplicate, not_found or refused
//	[insurance.infcodes]
//	"-2" = "sign_in"
type Config struct {
	URL          string `toml:"url"`
	Auth         string `toml:"auth"`
	PaasID       string `toml:"paasid"`
	TokenFile    string `toml:"token_file"`
	RecerSysCode string `toml:"recer_sys_code"`
	Infver       string `toml:"infver"`

	TokenURL         string `toml:"token_url"`
	ClientID         string `toml:"client_id"`
	ClientSecretFile string `toml:"client_secret_file"`
	Username         string `toml:"username"`
	PasswordFile     string `toml:"password_file"`
	SignKeyFile      string `toml:"sign_key_file"`
	PlatformKeyFile  string `toml:"platform_key_file"`
	SM4KeyFile       string `toml:"sm4_key_file"`

	ErrMsg   *protocol.Patterns `toml:"err_msg"`
	Infcodes map[string]string  `toml:"infcodes"`
}

// LoadConfig decodes a file holding an [insurance] section strictly (an
// unknown key is an error naming it), applies the defaults and validates.
func LoadConfig(path string) (Config, error) {
	var f struct {
		Insurance Config `toml:"insurance"`
	}
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return Config{}, fmt.Errorf("%w: %s: unknown key %s", ErrConfig, path, undecoded[0])
	}
	if err := f.Insurance.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return f.Insurance, nil
}

// Validate applies the defaults and checks the section, naming the field
// at fault.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: insurance.%s %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if c.Auth == "" {
		c.Auth = transport.AuthTif
	}
	if c.Infver == "" {
		c.Infver = protocol.Version
	}
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return bad("url", "is required")
	case err != nil || u.Host == "":
		return bad("url", "%q is not a URL", c.URL)
	}
	if err := client.CheckURL(u, c.Auth); err != nil {
		return bad("url", "%v", err)
	}
	if c.RecerSysCode == "" {
		return bad("recer_sys_code", "is required (the province's receiving system, e.g. MBS_LOCAL)")
	}
	if len(c.RecerSysCode) > 10 {
		return bad("recer_sys_code", "%q is longer than 10 characters", c.RecerSysCode)
	}
	if len(c.Infver) > 6 {
		return bad("infver", "%q is longer than 6 characters", c.Infver)
	}
	switch c.Auth {
	case transport.AuthTif:
		if c.PaasID == "" {
			return bad("paasid", "is required with auth tif")
		}
		if c.TokenFile == "" {
			return bad("token_file", "is required with auth tif")
		}
	case transport.AuthOAuthSM:
		for _, f := range []struct{ name, v string }{
			{"token_url", c.TokenURL}, {"client_id", c.ClientID}, {"client_secret_file", c.ClientSecretFile},
			{"username", c.Username}, {"password_file", c.PasswordFile}, {"sign_key_file", c.SignKeyFile},
			{"platform_key_file", c.PlatformKeyFile}, {"sm4_key_file", c.SM4KeyFile},
		} {
			if f.v == "" {
				return bad(f.name, "is required with auth oauth_sm")
			}
		}
		tu, err := url.Parse(c.TokenURL)
		if err != nil || tu.Host == "" {
			return bad("token_url", "%q is not a URL", c.TokenURL)
		}
		if err := client.CheckURL(tu, c.Auth); err != nil {
			return bad("token_url", "%v", err)
		}
	case transport.AuthNone:
	default:
		return bad("auth", "%q is not tif, oauth_sm or none", c.Auth)
	}
	if _, err := c.Classifier(); err != nil {
		return err
	}
	return nil
}

// Classifier is the section's failure classifier: the default patterns,
// each kind replaced by the configured list when one is given.
func (c *Config) Classifier() (*protocol.Classifier, error) {
	p := protocol.DefaultPatterns()
	if e := c.ErrMsg; e != nil {
		for _, kind := range []struct {
			set  []string
			into *[]string
		}{{e.SignIn, &p.SignIn}, {e.Door, &p.Door}, {e.Duplicate, &p.Duplicate}, {e.NotFound, &p.NotFound}} {
			if kind.set != nil {
				*kind.into = kind.set
			}
		}
	}
	codes := map[int]string{}
	for k, kind := range c.Infcodes {
		n, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%w: insurance.infcodes: %q is not a non-zero infcode", ErrConfig, k)
		}
		codes[n] = kind
	}
	cl, err := protocol.NewClassifier(p, codes)
	if err != nil {
		return nil, fmt.Errorf("%w: insurance.err_msg or infcodes: %v", ErrConfig, err)
	}
	return cl, nil
}

// Profile builds the section's transport profile, reading its files. The
// HTTP client fetches OAuth tokens; clk times signatures and tokens.
func (c *Config) Profile(hc *http.Client, clk clock.Clock) (transport.Profile, error) {
	switch c.Auth {
	case transport.AuthNone:
		return transport.None{}, nil
	case transport.AuthTif:
		token, err := secretFile("token_file", c.TokenFile)
		if err != nil {
			return nil, err
		}
		return transport.NewTif(c.PaasID, token, clk)
	case transport.AuthOAuthSM:
		secret, err := secretFile("client_secret_file", c.ClientSecretFile)
		if err != nil {
			return nil, err
		}
		password, err := secretFile("password_file", c.PasswordFile)
		if err != nil {
			return nil, err
		}
		sign, err := transport.LoadSM2PrivateKey(c.SignKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: insurance.sign_key_file: %v", ErrConfig, err)
		}
		platform, err := transport.LoadSM2PublicKey(c.PlatformKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: insurance.platform_key_file: %v", ErrConfig, err)
		}
		sm4, err := transport.LoadSM4Key(c.SM4KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: insurance.sm4_key_file: %v", ErrConfig, err)
		}
		return transport.NewOAuthSM(transport.OAuthSMConfig{
			TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: secret, Username: c.Username, Password: password,
			SignKey: sign, PlatformKey: platform, SM4Key: sm4, HTTP: hc, Clock: clk,
		})
	}
	return nil, fmt.Errorf("%w: insurance.auth %q", ErrConfig, c.Auth)
}

// Apply fills the gateway's part of a client configuration from the
// section: the URL, the profile, the classifier and the envelope's
// per-province values. The rest (the institution, the terminal, the
// timeouts, the msgid source) is the caller's.
func (c *Config) Apply(cc *client.Config) error {
	profile, err := c.Profile(nil, cc.Clock)
	if err != nil {
		return err
	}
	cl, err := c.Classifier()
	if err != nil {
		return err
	}
	cc.URL, cc.Profile, cc.Classifier, cc.RecerSysCode, cc.Infver = c.URL, profile, cl, c.RecerSysCode, c.Infver
	return nil
}

// secretFile reads a one-line secret, refusing a file others can read.
func secretFile(field, path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: insurance.%s: %v", ErrConfig, field, err)
	}
	// Windows has no such bits (its ACLs decide); elsewhere a secret
	// readable by every account is refused.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o004 != 0 {
		return "", fmt.Errorf("%w: insurance.%s: %s is readable by everyone (mode %04o); chmod 600 or 640 it", ErrConfig, field, path, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: insurance.%s: %v", ErrConfig, field, err)
	}
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "", fmt.Errorf("%w: insurance.%s: %s is empty", ErrConfig, field, path)
	}
	return s, nil
}
