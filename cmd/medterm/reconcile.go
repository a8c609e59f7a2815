package main

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
)

// errUnbalanced is returned when a reconciliation finds differences.
type errUnbalanced struct{ n int }

func (e errUnbalanced) Error() string {
	return fmt.Sprintf("%d differences with the platform: see each remedy above", e.n)
}

func newReconcileCmd(g *globals) *cobra.Command {
	var date string
	cmd := &cobra.Command{
		Use:   "reconcile [--date YYYY-MM-DD]",
		Short: "Compare this terminal's settlements of a day with the platform's, and list each difference with its remedy",
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
				fmt.Fprintf(out, "reconciliation of %s\n", rep.Date)
				for _, t := range rep.Totals {
					mark := "balanced"
					if !t.Balanced {
						mark = "DIFFERS: platform says " + t.Platform
					}
					fmt.Fprintf(out, "  insurance %s: %d settlements, total %s, fund %s, account %s: %s\n", t.Insutype, t.Count, t.Total, t.Fund, t.Account, mark)
				}
				for _, d := range rep.Diffs {
					fmt.Fprintf(out, "  %s msgid %s setl_id %s", d.Kind, d.Msgid, d.SetlID)
					if d.SettlementID != "" {
						fmt.Fprintf(out, " (%s)", d.SettlementID)
					}
					if d.Local != nil && d.Platform != nil {
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
			if !rep.Balanced {
				return errUnbalanced{len(rep.Diffs)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the day to reconcile (default: today, China time)")
	return cmd
}
