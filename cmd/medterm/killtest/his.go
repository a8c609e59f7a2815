package killtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Bill is one bill a HIS client submits under its idempotency key, and
// everything it was told about it.
type Bill struct {
	Key     string
	Persona string
	Card    bool // identified by card fields rather than the ID number
	Body    api.SettleBody
	Sent    int                  // submissions
	Down    int                  // submissions refused at connect: nothing listened
	Cut     int                  // submissions sent and never answered (killed mid-request)
	Answers []api.SettlementView // every answer, in order
	// Refused are error answers of the API (none is expected: every bill
	// is well formed and its key is never reused for another bill).
	Refused []string
	// CutFirst: a submission was cut before the bill's first answer, so
	// the answer came to the same key sent again.
	CutFirst bool
}

// Answered reports whether any submission got an answer.
func (b *Bill) Answered() bool { return len(b.Answers) > 0 }

// Last is the latest answer.
func (b *Bill) Last() api.SettlementView { return b.Answers[len(b.Answers)-1] }

// Book is every bill of the run. Its methods are safe for concurrent use;
// one bill is submitted by one goroutine at a time.
type Book struct {
	mu    sync.Mutex
	rng   *rand.Rand
	data  *personas.Dataset
	bills []*Bill
}

// NewBook returns an empty book drawing bills from the data set's
// personas.
func NewBook(data *personas.Dataset, seed uint64) *Book {
	return &Book{rng: rand.New(rand.NewPCG(seed, seed+1)), data: data}
}

// Bills returns every bill so far, in the order they were made.
func (bk *Book) Bills() []*Bill {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	return append([]*Bill(nil), bk.bills...)
}

// Unanswered returns the bills whose every submission went unanswered.
func (bk *Book) Unanswered() []*Bill {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	var out []*Bill
	for _, b := range bk.bills {
		if !b.Answered() {
			out = append(out, b)
		}
	}
	return out
}

// mix is who comes to the window, with weights: mostly patients who
// settle, some whose insurance or card is refused, and the payment cases
// (limits, family pay, no agreement) in between.
var mix = []struct {
	persona string
	weight  int
}{
	{"acct-first", 6}, {"bank-card", 6}, {"credit-fallback", 3}, {"insufficient", 2},
	{"low-limit", 3}, {"daily-limit", 3}, {"family-child", 2}, {"family-confirm", 2},
	{"no-agreement", 2}, {"elderly-no-credit", 2}, {"resident-390", 3}, {"deductible-met", 3},
	{"near-cap", 2}, {"not-insured", 3}, {"card-expired", 2}, {"card-blocked", 2},
}

// catalogue items: the sandbox catalogue's codes (its class is the one
// that counts), the class the HIS believes, a base unit price in fen.
var catalogue = []struct {
	code, class string
	price       money.Fen
}{
	{"XJ01CRA076E001010102567", protocol.ClassA, 1250}, // a medicine, in boxes: halves are sold
	{"002502010010000", protocol.ClassA, 2500},
	{"002701000010000", protocol.ClassB, 18000},
	{"ZB01AAX0156010103376", protocol.ClassC, 4500},
	{"001102000010000", protocol.ClassA, 5000},
}

// New makes a bill with a fresh key: a persona from the mix, identified
// by ID number or by the card's fields, with one to three items whose
// prices vary to the fen. About one bill in eight is large, over the
// offline limit for one bill and over the low per-transaction limits.
func (bk *Book) New() *Bill {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	r := bk.rng
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	pick, persona := r.IntN(total), ""
	for _, m := range mix {
		if pick < m.weight {
			persona = m.persona
			break
		}
		pick -= m.weight
	}
	p, ok := bk.data.ByKey(persona)
	if !ok {
		panic("killtest: no persona " + persona) // the mix names the data set's personas
	}
	b := &Bill{Key: fmt.Sprintf("his-%06d", len(bk.bills)+1), Persona: persona}
	id := agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno}
	if p.Card != nil && r.IntN(2) == 0 {
		b.Card = true
		id = agent.IdentityInput{CertType: protocol.CertSSCard, CertNo: p.Card.CardNo, CardSN: p.Card.CardSn, IDNo: p.Certno}
	}
	var items []agent.FeeItem
	if r.IntN(8) == 0 {
		ct := catalogue[2]
		price := ct.price + money.Fen(r.IntN(100))
		items = append(items, agent.FeeItem{Code: ct.code, HospCode: "H-" + ct.code, Class: ct.class,
			Quantity: money.QuantityOf(3), UnitPriceFen: price, Amount: 3 * price})
	} else {
		for range 1 + r.IntN(3) {
			it := catalogue[r.IntN(len(catalogue))]
			qty := int64(1 + r.IntN(3))
			price := it.price + money.Fen(r.IntN(100)) - 50
			fi := agent.FeeItem{Code: it.code, HospCode: "H-" + it.code, Class: it.class,
				Quantity: money.QuantityOf(qty), UnitPriceFen: price, Amount: money.Fen(qty) * price}
			if it.code == catalogue[0].code && r.IntN(2) == 0 {
				// Half boxes at a price in yuan to six decimals, as a
				// pharmacy's HIS sends them: the amount is the national
				// interface's rounding of quantity × price, half up.
				q := money.QuantityOf(qty) + 5_000
				p := money.PriceOfFen(price) + money.Price(r.IntN(10_000))
				fi.Quantity, fi.UnitPriceFen, fi.UnitPrice, fi.Amount = q, 0, p, money.LineAmount(q, p)
			}
			items = append(items, fi)
		}
	}
	b.Body = api.SettleBody{
		Identity: id,
		Operator: agent.Operator{ID: "W01", Type: protocol.OpterClerk},
		Bill: agent.Bill{VisitNo: "MZ" + b.Key[4:], DeptCode: "A03", DeptName: "Internal medicine",
			DoctorID: "D017", DoctorName: "Dr Liang", Items: items},
		Mode: agent.ModePreferOnline,
	}
	bk.bills = append(bk.bills, b)
	return b
}

// Submit sends b once under its key and records what came back. It
// reports whether the daemon answered with the settlement, and whether
// it seemed to be down (nothing listening).
func (bk *Book) Submit(ctx context.Context, c *api.Client, b *Bill) (answered, down bool) {
	v, err := c.Settle(ctx, b.Key, b.Body)
	bk.mu.Lock()
	defer bk.mu.Unlock()
	b.Sent++
	var aerr *api.APIError
	switch {
	case err == nil:
		if b.Cut > 0 && !b.Answered() {
			b.CutFirst = true
		}
		b.Answers = append(b.Answers, v)
		return true, false
	case errors.As(err, &aerr):
		b.Refused = append(b.Refused, aerr.Error())
		return false, false
	case errors.Is(err, api.ErrDaemonDown):
		b.Down++
		return false, true
	default:
		b.Cut++
		return false, false
	}
}

// Client is one HIS workstation: it submits bills one after the other
// and, as the HIS contract says, sends a bill that got no answer again
// under the same key until it gets one.
type Client struct {
	Book *Book
	rng  *rand.Rand
	open []*Bill // submitted, never answered
}

// NewClient returns a workstation drawing from book.
func NewClient(book *Book, seed uint64) *Client {
	return &Client{Book: book, rng: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))}
}

// Run submits bills to the daemon at c until ctx ends, a bill that got no
// answer before any new one. While nothing listens (the daemon starting
// up) it tries again every few milliseconds.
func (h *Client) Run(ctx context.Context, c *api.Client) {
	for ctx.Err() == nil {
		var b *Bill
		if len(h.open) > 0 {
			b, h.open = h.open[0], h.open[1:]
		} else {
			b = h.Book.New()
		}
		answered, down := h.Book.Submit(ctx, c, b)
		if !answered {
			h.open = append([]*Bill{b}, h.open...)
		}
		if down {
			t := time.NewTimer(time.Duration(2+h.rng.IntN(8)) * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// Adopt gives the workstation a bill that got no answer elsewhere (in a
// burst): it sends it again like its own.
func (h *Client) Adopt(b *Bill) { h.open = append(h.open, b) }

// Burst submits n new bills at once, each from its own goroutine, and
// returns, when all have an answer or ctx ends, those that got none.
func Burst(ctx context.Context, c *api.Client, book *Book, n int) []*Bill {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var left []*Bill
	for range n {
		b := book.New()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if answered, _ := book.Submit(ctx, c, b); !answered {
				mu.Lock()
				left = append(left, b)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return left
}

// Resubmit sends every bill again under its key until each has an
// answer in one of the states wanted, with at most workers at once, or
// until ctx ends. It returns the bills still without such an answer.
func Resubmit(ctx context.Context, c *api.Client, book *Book, bills []*Bill, workers int, done func(api.SettlementView) bool) []*Bill {
	work := make(chan *Bill)
	var mu sync.Mutex
	var left []*Bill
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				ok := false
				for !ok && ctx.Err() == nil {
					if answered, _ := book.Submit(ctx, c, b); answered {
						ok = done(b.Last())
					}
					if !ok {
						t := time.NewTimer(20 * time.Millisecond)
						select {
						case <-ctx.Done():
						case <-t.C:
						}
						t.Stop()
					}
				}
				if !ok {
					mu.Lock()
					left = append(left, b)
					mu.Unlock()
				}
			}
		}()
	}
	for _, b := range bills {
		work <- b
	}
	close(work)
	wg.Wait()
	sort.Slice(left, func(i, j int) bool { return left[i].Key < left[j].Key })
	return left
}
