package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Patients of the default persona data set that bills are drawn for. The
// platform settles the first ones; it refuses the last three (not
// insured, an expired card, a blocked card) whenever they are identified
// by card, and the first of those whatever identifies them.
var (
	settledPatients = []string{
		"acct-first", "bank-card", "credit-fallback", "insufficient", "low-limit", "daily-limit", "family-signer",
		"family-child", "family-confirm", "no-agreement", "elderly-no-credit", "resident-390", "deductible-met",
		"near-cap", "opaque-only", "revoked-phone",
	}
	refusedPatients = []string{"not-insured", "card-expired", "card-blocked"}
)

// RandomBill makes up the n-th bill of a run, as a HIS would send it: for
// a patient of data (one bill in ten for one the platform refuses),
// identified by card where the patient has one (three times in four) or
// else by ID number, with one to three fee items, mostly small, some near
// or over the offline limit for one bill, mostly to settle online if
// possible, sometimes online only or offline only.
func RandomBill(rng *rand.Rand, data *personas.Dataset, n int) *Bill {
	key := settledPatients[rng.IntN(len(settledPatients))]
	if rng.IntN(10) == 0 {
		key = refusedPatients[rng.IntN(len(refusedPatients))]
	}
	p, ok := data.ByKey(key)
	if !ok {
		panic("model: no persona " + key + " in the data set")
	}
	b := &Bill{Key: fmt.Sprintf("his-%d", n), Persona: key, Mode: agent.ModePreferOnline}
	switch rng.IntN(10) {
	case 0:
		b.Mode = agent.ModeRequireOnline
	case 1:
		b.Mode = agent.ModeForceOffline
	}
	id := agent.IdentityInput{CertType: protocol.CertIDNo, CertNo: p.Certno}
	if p.Card != nil && rng.IntN(4) > 0 {
		id = agent.IdentityInput{CertType: protocol.CertSSCard, CertNo: p.Card.CardNo, CardSN: p.Card.CardSn, IDNo: p.Certno, Name: p.Name}
	}
	b.CertType = id.CertType
	byCard := id.CertType == protocol.CertSSCard
	b.Declines = key == "not-insured" || byCard && (key == "card-expired" || key == "card-blocked")
	bill := agent.Bill{VisitNo: fmt.Sprintf("MZ%06d", n), DeptCode: "A03", DoctorID: "D017", Items: randomItems(rng)}
	b.Amount = bill.Total()
	b.Body = api.SettleBody{Identity: id, Operator: agent.Operator{ID: "D017", Type: protocol.OpterClerk}, Bill: bill, Mode: b.Mode}
	return b
}

// randomItems is one to three fee items.
func randomItems(rng *rand.Rand) []agent.FeeItem {
	var budget money.Fen
	switch x := rng.IntN(10); {
	case x < 6:
		budget = money.Fen(100 + rng.Int64N(15000))
	case x < 9:
		budget = money.Fen(15000 + rng.Int64N(30000))
	default: // around the offline limit for one bill (500 CNY)
		budget = money.Fen(45000 + rng.Int64N(25000))
	}
	classes := []string{protocol.ClassA, protocol.ClassB, protocol.ClassC}
	items := make([]agent.FeeItem, 1+rng.IntN(3))
	for i := range items {
		qty := int64(1 + rng.IntN(3))
		price := max(budget/money.Fen(int64(len(items))*qty), 1)
		items[i] = agent.FeeItem{
			Code: fmt.Sprintf("1102%05d", rng.IntN(100000)), Class: classes[rng.IntN(len(classes))],
			Quantity: money.QuantityOf(qty), UnitPrice: money.PriceOfFen(price), Amount: money.Fen(qty) * price,
		}
	}
	return items
}
