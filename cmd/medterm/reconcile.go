package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
)

// errUnbalanced is returned when a reconciliation finds differences.
type errUnbalanced struct{ n int }

func (e errUnbalanced) Error() string {
	return fmt.Sprintf("%d differences with the platform or the payment channel: see each remedy above", e.n)
}

func newReconcileCmd(g *globals) *cobra.Command {
	var date string
	cmd := &cobra.Command{
		Use:   "reconcile [--date YYYY-MM-DD]",
		Short: "Compare this terminal's settlements of a day with the insurance platform's and its payments with the payment channel's statement, and list each difference with its remedy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var rep agent.Report
			if _, err := c.Do(cmd.Context(), http.MethodPost, "/v1/reconcile", nil, api.ReconcileBody{Date: date}, &rep); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if g.jsonOut {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else {
				printReport(out, rep)
			}
			if !rep.Balanced {
				return errUnbalanced{len(rep.Diffs)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the day to reconcile (default: today, China time)")
	return cmd
}

// printReport writes a reconciliation for the window staff: the
// insurance platform's totals per insurance type, the payment channel's
// statement, then every difference with its remedy.
func printReport(out io.Writer, rep agent.Report) {
	fmt.Fprintf(out, "reconciliation of %s\n", rep.Date)
	for _, t := range rep.Totals {
		mark := "balanced"
		if !t.Balanced {
			mark = "DIFFERS: platform says " + t.Platform
		}
		fmt.Fprintf(out, "  insurance %s: %d settlements, total %s, fund %s, account %s: %s\n", t.Insutype, t.Count, t.Total, t.Fund, t.Account, mark)
	}
	if p := rep.Payments; p != nil {
		mark := "balanced"
		if !p.Balanced {
			mark = "DIFFERS"
		}
		fmt.Fprintf(out, "  payment channel: %d orders here, net %s; %d on the channel's statement: %s\n", p.Count, p.Amount, p.ChannelCount, mark)
	} else {
		fmt.Fprintln(out, "  payment channel: none configured (patients' parts are paid at the window)")
	}
	for _, d := range rep.Diffs {
		payment := d.Kind == agent.DiffPaymentMissingLocal || d.Kind == agent.DiffPaymentMissingChannel || d.Kind == agent.DiffPaymentAmount
		if payment {
			fmt.Fprintf(out, "  %s order %s", d.Kind, d.Msgid)
		} else {
			fmt.Fprintf(out, "  %s msgid %s setl_id %s", d.Kind, d.Msgid, d.SetlID)
		}
		if d.SettlementID != "" {
			fmt.Fprintf(out, " (%s)", d.SettlementID)
		}
		switch {
		case payment:
			var sides []string
			if d.Local != nil {
				sides = append(sides, "here "+d.Local.Cash.String())
			}
			if d.Platform != nil {
				sides = append(sides, "channel "+d.Platform.Cash.String())
			}
			if len(sides) > 0 {
				fmt.Fprintf(out, ": %s", strings.Join(sides, ", "))
			}
		case d.Local != nil && d.Platform != nil:
			fmt.Fprintf(out, ": here %s, platform %s", d.Local.Total, d.Platform.Total)
		}
		fmt.Fprintf(out, "\n    -> %s\n", d.Remedy)
	}
	if rep.Unsettled > 0 {
		fmt.Fprintf(out, "  %d bills of the day are not settled yet (deferred or in doubt): run 'medterm sync now', then reconcile again\n", rep.Unsettled)
	}
	if rep.Balanced {
		fmt.Fprintln(out, "balanced")
	}
}
