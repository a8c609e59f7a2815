package agent

import (
	"time"

	"github.com/seed-a859fada/medterm/agent/money"
)

// China Standard Time, fixed: the platform's days and times are in CST,
// whatever the terminal's own zone or tzdata.
var CST = time.FixedZone("CST", 8*3600)

// Operator types (opter_type).
const (
	OpterClerk  = "1"
	OpterKiosk  = "2"
	OpterMobile = "3"
)

// Item classes (chrgitm_lv), as the platform's catalogue decides them.
const (
	ClassA = "01" // fully in scope
	ClassB = "02" // a share self-paid first, the rest in scope
	ClassC = "03" // fully self-paid
)

// Insurance types (insutype) the estimates know.
const (
	InsutypeEmployee = "310" // employees' basic medical insurance, with a personal account
	InsutypeResident = "390" // urban and rural residents' insurance
)

// price is the line's unit price in yuan, whichever way the HIS gave it.
func (it FeeItem) price() money.Price {
	if it.UnitPrice != 0 {
		return it.UnitPrice
	}
	return money.PriceOfFen(it.UnitPriceFen)
}

// normalized is the bill with every unit price in yuan: how the journal
// keeps it and the platform receives it.
func (b Bill) normalized() Bill {
	items := make([]FeeItem, len(b.Items))
	for i, it := range b.Items {
		it.UnitPrice, it.UnitPriceFen = it.price(), 0
		items[i] = it
	}
	b.Items = items
	return b
}

// formatDate is a day as the platform writes it, in CST.
func formatDate(t time.Time) string { return t.In(CST).Format(time.DateOnly) }
