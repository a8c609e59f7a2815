package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/seed-a859fada/medterm/agent"
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

// printTable writes a header and rows in columns aligned by display width
// (a Chinese character takes two columns); the last column is not padded.
func printTable(w io.Writer, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], agent.DisplayWidth(c))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-agent.DisplayWidth(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
}

// settlementRows are settlements as journal list shows them.
func settlementRows(views []api.SettlementView) [][]string {
	rows := make([][]string, 0, len(views))
	for _, v := range views {
		total := v.Split.Total
		if total == 0 {
			total = v.Bill.Total()
		}
		part := v.Pay.Amount.String() + " " + v.Pay.Status
		if v.Pay.Reason != "" {
			part += " (" + v.Pay.Reason + ")"
		}
		if v.Error != nil {
			part = v.Error.Code
		}
		rows = append(rows, []string{v.ID, string(v.State), v.UpdatedAt.In(agent.CST).Format("01-02 15:04"), v.Patient.Name, total.String(), part})
	}
	return rows
}
