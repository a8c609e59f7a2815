package transport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Envelope values of the oauth_sm profile.
const (
	SigntypeSM2 = "SM2"
	EncTypeSM4  = "SM4"
)

// tokenMargin renews a token this long before the gateway says it ends,
// so that a request never leaves with a token about to expire.
const tokenMargin = 30 * time.Second

// OAuthSMConfig is the client side of oauth_sm.
type OAuthSMConfig struct {
	// TokenURL is the gateway's OAuth2 token endpoint.
	TokenURL               string
	ClientID, ClientSecret string
	Username, Password     string
	// SignKey is the institution's SM2 key (cainfo of requests);
	// PlatformKey the gateway's, which signs answers; SM4Key encrypts
	// input and output.
	SignKey     *sm2.PrivateKey
	PlatformKey *ecdsa.PublicKey
	SM4Key      []byte
	// HTTP fetches tokens; Clock times them.
	HTTP  *http.Client
	Clock clock.Clock
}

// OAuthSM is the client side of the oauth_sm profile. It is safe for
// concurrent use: one token is shared, fetched once when missing.
type OAuthSM struct {
	cfg OAuthSMConfig

	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewOAuthSM checks cfg and returns the profile.
func NewOAuthSM(cfg OAuthSMConfig) (*OAuthSM, error) {
	switch {
	case cfg.TokenURL == "":
		return nil, fmt.Errorf("%w: oauth_sm needs a token URL", ErrConfig)
	case cfg.ClientID == "" || cfg.Username == "":
		return nil, fmt.Errorf("%w: oauth_sm needs a client id and a username", ErrConfig)
	case cfg.SignKey == nil || cfg.PlatformKey == nil:
		return nil, fmt.Errorf("%w: oauth_sm needs the institution's SM2 key and the platform's public key", ErrConfig)
	case len(cfg.SM4Key) != SM4KeyLen:
		return nil, fmt.Errorf("%w: oauth_sm needs a %d-byte SM4 key", ErrConfig, SM4KeyLen)
	}
	if cfg.HTTP == nil {
		// Like settlement traffic, the token request bypasses any proxy
		// the environment names.
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &OAuthSM{cfg: cfg}, nil
}

func (o *OAuthSM) Name() string { return AuthOAuthSM }

// Seal signs the plaintext input and replaces it by its ciphertext.
func (o *OAuthSM) Seal(env *protocol.Request) error {
	plain, err := compact(env.Input)
	if err != nil {
		return err
	}
	if env.Cainfo, err = SM2Sign(o.cfg.SignKey, plain); err != nil {
		return err
	}
	ct, err := SM4Encrypt(o.cfg.SM4Key, plain)
	if err != nil {
		return err
	}
	env.Input, _ = json.Marshal(ct)
	env.Signtype, env.EncType = SigntypeSM2, EncTypeSM4
	return nil
}

// Authorize sets the Bearer token, fetching one first if there is none.
func (o *OAuthSM) Authorize(ctx context.Context, r *http.Request) error {
	tok, err := o.bearer(ctx)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Open decrypts a success's output and checks the platform's signature
// of it. A failure travels in clear (its output is null).
func (o *OAuthSM) Open(resp *protocol.Response) error {
	if len(resp.Output) == 0 {
		return nil
	}
	var ct string
	if json.Unmarshal(resp.Output, &ct) != nil {
		if resp.OK() {
			return fmt.Errorf("%w: a success's output is not encrypted", ErrSeal)
		}
		return nil
	}
	plain, err := SM4Decrypt(o.cfg.SM4Key, ct)
	if err != nil {
		return err
	}
	if err := SM2Verify(o.cfg.PlatformKey, plain, resp.Cainfo); err != nil {
		return err
	}
	resp.Output = plain
	return nil
}

// Reject forgets the token: the gateway no longer takes it.
func (o *OAuthSM) Reject() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.token = ""
}

func (o *OAuthSM) bearer(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token != "" && o.cfg.Clock.Now().Before(o.expires) {
		return o.token, nil
	}
	form := url.Values{"grant_type": {"password"}, "username": {o.cfg.Username}, "password": {o.cfg.Password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrToken, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(o.cfg.ClientID, o.cfg.ClientSecret)
	resp, err := o.cfg.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrToken, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrToken, err)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &t) != nil || t.AccessToken == "" {
		return "", fmt.Errorf("%w: HTTP %d from the token endpoint", ErrToken, resp.StatusCode)
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
		return "", fmt.Errorf("%w: token type %q is not bearer", ErrToken, t.TokenType)
	}
	life := time.Duration(t.ExpiresIn) * time.Second
	if life <= 2*tokenMargin {
		life = 2 * tokenMargin
	}
	o.token, o.expires = t.AccessToken, o.cfg.Clock.Now().Add(life-tokenMargin)
	return o.token, nil
}

func compact(raw json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%w: input is not JSON: %v", ErrSeal, err)
	}
	return buf.Bytes(), nil
}

// OpenRequest is the gateway's side of Seal: it decrypts the envelope's
// input with the institution's SM4 key and checks cainfo with the
// institution's public key, leaving the plaintext input in env.
func OpenRequest(env *protocol.Request, sm4Key []byte, institution *ecdsa.PublicKey) error {
	if env.EncType != EncTypeSM4 || env.Signtype != SigntypeSM2 {
		return fmt.Errorf("%w: enc_type %q, signtype %q: want SM4 and SM2", ErrSeal, env.EncType, env.Signtype)
	}
	var ct string
	if err := json.Unmarshal(env.Input, &ct); err != nil {
		return fmt.Errorf("%w: input is not ciphertext", ErrSeal)
	}
	plain, err := SM4Decrypt(sm4Key, ct)
	if err != nil {
		return err
	}
	if err := SM2Verify(institution, plain, env.Cainfo); err != nil {
		return err
	}
	env.Input = plain
	return nil
}

// SealAnswer is the gateway's side of Open: it signs a success's output
// with the platform's key and encrypts it with the institution's.
func SealAnswer(resp *protocol.Response, sm4Key []byte, platform *sm2.PrivateKey) error {
	if len(resp.Output) == 0 {
		return nil
	}
	plain, err := compact(resp.Output)
	if err != nil {
		return err
	}
	if resp.Cainfo, err = SM2Sign(platform, plain); err != nil {
		return err
	}
	ct, err := SM4Encrypt(sm4Key, plain)
	if err != nil {
		return err
	}
	resp.Output, _ = json.Marshal(ct)
	resp.Signtype, resp.EncType = SigntypeSM2, EncTypeSM4
	return nil
}
