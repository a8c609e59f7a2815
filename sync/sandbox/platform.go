// Package sandbox is medterm-sandbox's platform: the insurance platform's
// side of the national interface (sync/protocol) for development, demos
// and tests, speaking the shapes real provincial gateways answer with. Its
// gateway checks every request by a transport profile (tif by default,
// oauth_sm or none; package transport) and refuses outside the envelope as
// real gateways do; the platform checks the envelope and the session,
// reads requests leniently (unknown fields ignored) and what it uses
// strictly, answers each msgid once and replays that answer forever after,
// and applies the payment rules of package policy to the people of a
// persona data set, keeping balances, settlements and answers in its own
// bbolt file. It also plays the patients' side: their social-security
// cards, served into vpcd card readers (package cards), and their phones,
// which show insurance QR codes that 1101 accepts and that E001's trust
// list lets a terminal verify offline.
//
// Integration tests of the agent start it in-process:
//
//	p, err := sandbox.Open(path, sandbox.Options{Personas: ds, Secrets: secrets, Clock: clk})
//	srv := httptest.NewServer(p.Handler())
//	url := srv.URL + sandbox.CallPath
//
// and read the outcome with p.Ledger.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// Options configure Open.
type Options struct {
	// Clock is the platform's time: signature windows, sessions, settlement
	// dates, ages. Default: the wall clock.
	Clock clock.Clock
	// Personas seeds a fresh state file (and a reset one). An existing state
	// file keeps the data set it was seeded with.
	Personas *personas.Dataset
	// Auth is the gateway's transport profile: transport.AuthTif (the
	// default), AuthOAuthSM or AuthNone.
	Auth string
	// Secrets are the tif gateway's credentials: each institution's
	// paasid is its code and its token the secret's bytes.
	Secrets map[string][]byte
	// TifWindow bounds a tif timestamp's distance from the gateway's
	// clock (default transport.DefaultTifWindow).
	TifWindow time.Duration
	// OAuthSM configures the oauth_sm profile.
	OAuthSM *OAuthSMOptions
	// SessionTTL is how long a 9001 sign-in stays valid. Default 12h.
	SessionTTL time.Duration
	// Reset wipes an existing state file and seeds it again.
	Reset bool
	// AllowRemote accepts transactions whose Host header is not a loopback
	// host. The admin endpoints stay loopback-only.
	AllowRemote bool
	// LockTimeout bounds the wait for another process's lock on the state
	// file. Default 1s.
	LockTimeout time.Duration
	Logger      *slog.Logger
	// CardReaders are loopback vpcd addresses (127.0.0.1:35963) of the
	// card readers that the patients' cards are inserted into, reader 0
	// first; see package cards and the /admin/cards endpoints.
	CardReaders []string
	// PSAMReader, when set, is the loopback vpcd address of the reader
	// that holds the hospital's PSAM while the platform is open.
	PSAMReader string
}

// DefaultSessionTTL is the life of a sign-in when Options.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

// Platform is an open sandbox platform. Its methods are safe for
// concurrent use; bbolt serialises the writes.
type Platform struct {
	db    *bolt.DB
	clock clock.Clock
	data  *personas.Dataset
	rules policy.Rules
	// policyVersion names the data set's policy in E002.
	policyVersion string
	secrets       map[string][]byte
	auth          string
	tifWindow     time.Duration
	oauth         *transport.OAuthGateway
	oauthOpts     OAuthSMOptions
	ttl           time.Duration
	allowRemote   bool
	log           *slog.Logger
	cards         *cards.Rack
	// trust is the credential trust list, fixed when the state was seeded.
	trust  *credential.TrustList
	outage atomic.Bool
	// doorSerial numbers answers given before any state is touched (a body
	// too large, a bad signature); see refmsgid.
	doorSerial atomic.Uint64
}

// Open opens (creating it if needed) the state file at path.
func Open(path string, opts Options) (*Platform, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Auth == "" {
		opts.Auth = transport.AuthTif
	}
	if opts.TifWindow <= 0 {
		opts.TifWindow = transport.DefaultTifWindow
	}
	var gw *transport.OAuthGateway
	switch opts.Auth {
	case transport.AuthTif:
		if len(opts.Secrets) == 0 {
			return nil, fmt.Errorf("%w: no institution secrets (tif tokens)", ErrOptions)
		}
	case transport.AuthOAuthSM:
		o := opts.OAuthSM
		if o == nil || o.PlatformKey == nil || len(o.Users) == 0 {
			return nil, fmt.Errorf("%w: oauth_sm needs users, institution keys and the platform key", ErrOptions)
		}
		users := map[string]string{}
		for name, u := range o.Users {
			users[name] = u.Password
		}
		gw = &transport.OAuthGateway{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Users: users, TTL: o.TokenTTL, Clock: opts.Clock}
	case transport.AuthNone:
	default:
		return nil, fmt.Errorf("%w: auth %q is not tif, oauth_sm or none", ErrOptions, opts.Auth)
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is locked by another process (another medterm-sandbox serving it?)", ErrState, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrState, path, err)
	}
	p := &Platform{
		db: db, clock: opts.Clock, secrets: opts.Secrets, ttl: opts.SessionTTL,
		allowRemote: opts.AllowRemote, log: opts.Logger,
		auth: opts.Auth, tifWindow: opts.TifWindow, oauth: gw,
	}
	if opts.OAuthSM != nil {
		p.oauthOpts = *opts.OAuthSM
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := p.prepare(tx, opts); err != nil {
			return err
		}
		p.trust, err = loadTrust(tx)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.rules = p.data.Rules()
	p.policyVersion = policyVersionOf(p.data.Policy)
	if p.cards, err = openRack(p.data, opts); err != nil {
		db.Close()
		return nil, err
	}
	for _, in := range p.data.Institutions {
		if _, ok := p.secrets[in.Code]; !ok && p.auth == transport.AuthTif {
			p.log.Warn("institution has no secret: its requests will be refused", "institution", in.Code)
		}
	}
	return p, nil
}

// prepare checks the schema, wipes the state on Reset, seeds a fresh file
// and loads the data set.
func (p *Platform) prepare(tx *bolt.Tx, opts Options) error {
	if opts.Reset {
		for _, b := range allBuckets {
			if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return fmt.Errorf("%w: reset: %v", ErrState, err)
			}
		}
	}
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("%w: %v", ErrState, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	schema := 0
	if v := meta.Get(metaSchema); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("%w: schema version %q", ErrState, v)
		}
		if n > schemaVersion {
			return fmt.Errorf("%w: written by a newer medterm-sandbox (schema %d, this one knows %d)", ErrState, n, schemaVersion)
		}
		schema = n
	}
	if raw := meta.Get(metaDataset); raw != nil {
		d, err := personas.Parse(raw)
		if err != nil {
			return fmt.Errorf("%w: stored data set: %v", ErrState, err)
		}
		p.data = d
		p.log.Info("state file reused", "people", len(d.People))
		return p.migrate(tx, schema)
	}
	if opts.Personas == nil {
		return fmt.Errorf("%w: a fresh state file needs personas to seed it", ErrOptions)
	}
	return p.seed(tx, opts.Personas)
}

// migrate brings a state file of an older schema up to this one, in the
// same transaction that opens it.
func (p *Platform) migrate(tx *bolt.Tx, from int) error {
	if from >= schemaVersion {
		return nil
	}
	if from < 2 {
		// Schema 1 had no phones: draw the issuer keys, and the phones of
		// the stored data set's personas (none in a version 1 file).
		if err := p.seedCredentials(tx, p.clock.Now()); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketMeta).Put(metaSchema, []byte(strconv.Itoa(schemaVersion))); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	p.log.Info("state file migrated", "from_schema", from, "to_schema", schemaVersion)
	return nil
}

// seed stores the data set and every person's starting balances. The
// year usage of the file counts for the current CST year.
func (p *Platform) seed(tx *bolt.Tx, d *personas.Dataset) error {
	raw, err := d.Marshal()
	if err != nil {
		return fmt.Errorf("%w: encode data set: %v", ErrState, err)
	}
	// Store the parsed-and-validated form, so reopening parses exactly
	// what was seeded.
	if p.data, err = personas.Parse(raw); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(metaSchema, []byte(strconv.Itoa(schemaVersion))); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := meta.Put(metaDataset, raw); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	year := yearOf(p.clock.Now())
	for _, person := range p.data.People {
		s := personState{
			PsnNo:   person.PsnNo,
			Account: person.AccountBalance.Fen(),
			Years:   map[string]policy.YearUsage{year: person.UsageFen()},
			Days:    map[string]money.Fen{},
		}
		if a := person.Agreement; a != nil {
			if a.BankCard != nil {
				s.Bank = a.BankCard.Balance.Fen()
			}
			if a.CreditLine != nil {
				s.Credit = a.CreditLine.Available.Fen()
			}
		}
		if err := putJSON(tx, bucketPeople, []byte(person.PsnNo), &s); err != nil {
			return err
		}
	}
	if err := p.seedCredentials(tx, p.clock.Now()); err != nil {
		return err
	}
	p.log.Info("state seeded", "people", len(p.data.People), "year", year)
	return nil
}

// Close removes the patients' cards from their readers and closes the
// state file.
func (p *Platform) Close() error {
	p.cards.Close()
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("%w: close: %v", ErrState, err)
	}
	return nil
}

// Dataset returns the data set the platform serves.
func (p *Platform) Dataset() *personas.Dataset { return p.data }

// ExpireSessions ends every sign-in session, so that the next transaction
// of every terminal is refused with SIGN_EXPIRED until it signs in again.
func (p *Platform) ExpireSessions() error {
	err := p.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketSessions); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketSessions)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: expire sessions: %v", ErrState, err)
	}
	p.log.Info("all sessions expired")
	return nil
}

// Health reports whether the state file answers a read.
func (p *Platform) Health(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(metaDataset) == nil {
			return fmt.Errorf("%w: no data set", ErrState)
		}
		return nil
	})
}

func yearOf(t time.Time) string { return strconv.Itoa(t.In(protocol.CST).Year()) }
func dateOf(t time.Time) string { return protocol.FormatDate(t) }
