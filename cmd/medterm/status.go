package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent/money"
)

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "One line: online or offline, the backlog, the card readers, the payment channel, the last error",
		Long: `Print the daemon's status in one line a cashier can read, or with --json
the whole status for monitoring scripts (at least online, backlog.count,
backlog.amount_fen and backlog.oldest_seconds; payment.reachable is the
payment channel's, absent until the daemon first called it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var st daemonStatus
			if err := c.Status(cmd.Context(), &st); err != nil {
				return err
			}
			if g.jsonOut {
				return printJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintln(cmd.OutOrStdout(), statusLine(st))
			return nil
		},
	}
}

// statusLine is the status in one line.
func statusLine(st daemonStatus) string {
	parts := []string{"ONLINE"}
	if !st.Online {
		parts[0] = "OFFLINE"
	}
	b := st.Backlog
	if b.Count == 0 {
		parts = append(parts, "no bills waiting")
	} else {
		parts = append(parts, fmt.Sprintf("%d bills waiting, %s CNY, oldest %s", b.Count, money.Fen(b.AmountFen), (time.Duration(b.OldestSeconds)*time.Second).String()))
	}
	if b.Unfinished > 0 {
		parts = append(parts, fmt.Sprintf("%d unfinished", b.Unfinished))
	}
	if n := st.States["arrears"]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d in arrears", n))
	}
	for _, r := range st.Cards {
		switch {
		case r.Card != nil:
			parts = append(parts, fmt.Sprintf("reader %q: card %s", r.Reader, r.Card.Name))
		case r.Error != "":
			parts = append(parts, fmt.Sprintf("reader %q: unreadable card", r.Reader))
		default:
			parts = append(parts, fmt.Sprintf("reader %q: empty", r.Reader))
		}
	}
	if !st.Online && st.LastError != "" {
		parts = append(parts, "last error: "+st.LastError)
	}
	// The patients' parts wait while the channel is away; the bills are
	// settled with the platform all the same.
	if p := st.Payment; p != nil && p.Enabled && p.Reachable != nil && !*p.Reachable {
		parts = append(parts, "PAYMENT CHANNEL UNREACHABLE: patients' parts wait ("+p.LastError+")")
	}
	return strings.Join(parts, " · ")
}
