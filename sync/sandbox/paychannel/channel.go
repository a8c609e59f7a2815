// Package paychannel is medterm-sandbox's payment channel: the second
// counterparty of a settlement, which takes the patient's own part from
// the source the patient signed for, as UnionPay or a signing bank would.
// It speaks exactly what the adapter (package sync/unionpay) speaks, the
// ACP form messages of package acp, signed with SM2 both ways, and keeps
// its own ledger in its own bbolt file: agreements, sources and balances,
// every order and its answer, password-free usage per agreement and
// Beijing day.
//
// Its agreements come from agreements.json, the personas' payinfo as the
// payment side keeps it (see that file's about line). Its rules: an order
// is answered once, and the same order again gets the same answer (the
// same orderId with other content is refused, 12); the password-free
// limits per payment and per day apply unless the patient confirmed the
// payment, which also satisfies a confirm-first family link; a payment
// takes its whole amount from the one source it names or nothing; a
// credit line pays only for a signer aged 18 to 65; a cancel undoes a
// whole payment on its clearing day; refunds return any part of a payment,
// up to what is left of it; the statement lists a day's bookings.
//
// Tests start it in-process:
//
//	ch, err := paychannel.Open(path, paychannel.Options{Key: channelKey, Merchants: merchants, Clock: clk})
//	srv := httptest.NewServer(ch.Handler())
//
// and read its books with ch.Ledger.
package paychannel

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/seed-a859fada/medterm/agent/clock"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Options configure Open.
type Options struct {
	// Key is the channel's SM2 key: it signs every answer and opens the
	// personal fields merchants seal for it.
	Key *sm2.PrivateKey
	// Merchants maps merId to the merchant's public key, which verifies
	// its requests.
	Merchants map[string]*ecdsa.PublicKey
	// Data seeds a fresh state file; default the built-in agreements.
	Data *Data
	// Personas give the patients' names, which an agreement lookup must
	// match; default the built-in personas.
	Personas *personas.Dataset
	// Clock is the channel's time: clearing days, ages, limits per day.
	Clock clock.Clock
	// Reset wipes an existing state file and seeds it again.
	Reset       bool
	LockTimeout time.Duration // default 1s
	Logger      *slog.Logger
}

// Channel is an open sandbox payment channel; safe for concurrent use.
type Channel struct {
	db        *bolt.DB
	key       *sm2.PrivateKey
	merchants map[string]*ecdsa.PublicKey
	data      *Data
	names     map[string]string // ID number → name, of the personas
	clock     clock.Clock
	log       *slog.Logger

	mu          sync.Mutex
	unknownNext int
	unknownCode string
	loseNext    int
}

// Open opens (creating and seeding it if needed) the state file at path.
func Open(path string, opts Options) (*Channel, error) {
	if opts.Key == nil || len(opts.Merchants) == 0 {
		return nil, fmt.Errorf("%w: a channel key and at least one merchant are needed", ErrOptions)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	var err error
	if opts.Personas == nil {
		if opts.Personas, err = personas.Default(); err != nil {
			return nil, err
		}
	}
	if opts.Data == nil {
		if opts.Data, err = DefaultData(); err != nil {
			return nil, err
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is locked by another process", ErrState, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrState, path, err)
	}
	c := &Channel{
		db: db, key: opts.Key, merchants: opts.Merchants, data: opts.Data, clock: opts.Clock, log: opts.Logger,
		names: map[string]string{},
	}
	for _, p := range opts.Personas.People {
		c.names[p.Certno] = p.Name
	}
	if err := db.Update(func(tx *bolt.Tx) error { return c.prepare(tx, opts.Reset) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Close closes the state file.
func (c *Channel) Close() error { return c.db.Close() }

func (c *Channel) prepare(tx *bolt.Tx, reset bool) error {
	if reset {
		for _, name := range allBuckets {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return fmt.Errorf("%w: reset: %v", ErrState, err)
			}
		}
	}
	if meta := tx.Bucket(bucketMeta); meta != nil {
		if v := string(meta.Get(metaSchema)); v != fmt.Sprint(schemaVersion) {
			return fmt.Errorf("%w: schema %q, this code reads %d", ErrState, v, schemaVersion)
		}
		return nil
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("%w: %v", ErrState, err)
		}
	}
	if err := tx.Bucket(bucketMeta).Put(metaSchema, []byte(fmt.Sprint(schemaVersion))); err != nil {
		return err
	}
	return c.seed(state{tx})
}

// seed writes the data file's agreements, with ids and tokens derived from
// the ID numbers so that every fresh state names them alike.
func (c *Channel) seed(s state) error {
	for _, no := range c.data.IDNos() {
		p := c.data.Patients[no]
		a := &agreementRec{ID: derive("AG", no, 16), Holder: no, Name: c.names[no], AccountFirst: p.AccountFirst,
			PerPayment: p.PerPayment, Daily: p.Daily}
		for i, src := range p.Sources {
			a.Sources = append(a.Sources, sourceRec{Kind: src.Kind, Token: derive("6235", fmt.Sprintf("%s/%d", no, i), 15),
				Masked: src.Masked, Bank: src.Bank, Balance: src.Balance, Limit: src.Limit})
		}
		for _, fl := range p.Family {
			l := &linkRec{ID: derive("FL", fl.Member, 16), Member: fl.Member, Signer: a.ID, Relation: fl.Relation, ConfirmFirst: fl.ConfirmFirst}
			if err := s.putLink(l); err != nil {
				return err
			}
			a.Links = append(a.Links, l.ID)
			h, err := s.holder(fl.Member)
			if err != nil {
				return err
			}
			h.Link = l.ID
			if err := s.putHolder(fl.Member, h); err != nil {
				return err
			}
		}
		if err := s.putAgreement(a); err != nil {
			return err
		}
		h, err := s.holder(no)
		if err != nil {
			return err
		}
		h.Own = a.ID
		if err := s.putHolder(no, h); err != nil {
			return err
		}
	}
	return nil
}

// derive makes a stable identifier: prefix and n decimal digits of
// SM3(text).
func derive(prefix, text string, n int) string {
	sum := sm3.Sum([]byte(text))
	out := []byte(prefix)
	for i := 0; len(out) < len(prefix)+n; i++ {
		out = append(out, '0'+sum[i%len(sum)]%10)
	}
	return string(out)
}

// Faults for tests: small and explicit.

// AnswerUnknownNext makes the next n payments (consumes) answer code (03,
// 04 or 05: the outcome unknown) although the channel decides and books
// them as always; a query then tells what became of them.
func (c *Channel) AnswerUnknownNext(n int, code string) {
	if !acp.Pending(code) {
		panic("paychannel: AnswerUnknownNext with a code that is not pending: " + code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unknownNext, c.unknownCode = n, code
}

// LoseNext drops the next n answers of any kind: the channel acts on the
// request, then closes the connection without answering.
func (c *Channel) LoseNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loseNext = n
}

func (c *Channel) takeUnknown() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unknownNext <= 0 {
		return "", false
	}
	c.unknownNext--
	return c.unknownCode, true
}

func (c *Channel) takeLoss() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loseNext <= 0 {
		return false
	}
	c.loseNext--
	return true
}

// Health reports whether the state file answers.
func (c *Channel) Health(ctx context.Context) error {
	return c.db.View(func(tx *bolt.Tx) error { return ctx.Err() })
}
