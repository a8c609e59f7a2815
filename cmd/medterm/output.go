package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/events"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// summary is one line a cashier can read.
func summary(v api.SettlementView) string {
	var b strings.Builder
	total := v.Split.Total
	if total == 0 {
		total = v.Bill.Total() // not settled: the bill's own total
	}
	fmt.Fprintf(&b, "%-18s %-10s %-12s total %9s", v.ID, v.State, v.Patient.Name, total)
	if v.Pay.Status != "" {
		fmt.Fprintf(&b, "  patient's part %s %s", v.Pay.Amount, v.Pay.Status)
		if v.Pay.Reason != "" {
			fmt.Fprintf(&b, " (%s)", v.Pay.Reason)
		}
	}
	if v.Error != nil {
		fmt.Fprintf(&b, "  %s: %s", v.Error.Code, v.Error.Message)
	}
	return b.String()
}

func newBus() *events.Bus { return events.NewBus(nil) }
