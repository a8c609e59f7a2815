package main

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
)

func newVoidCmd(g *globals) *cobra.Command {
	var operator, reason string
	cmd := &cobra.Command{
		Use:               "void SETTLEMENT-ID --operator ID --reason TEXT",
		Short:             "Cancel a deferred bill before it is sent (the patient paid another way)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSettlements(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var v api.SettlementView
			_, err = c.Do(cmd.Context(), http.MethodPost, "/v1/settlements/"+url.PathEscape(args[0])+"/void", nil,
				api.VoidBody{Operator: agent.Operator{ID: operator, Type: agent.OpterClerk}, Reason: reason}, &v)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return printJSON(cmd.OutOrStdout(), v)
			}
			cmd.Println(summary(v))
			return nil
		},
	}
	cmd.Flags().StringVar(&operator, "operator", "", "your operator id")
	cmd.Flags().StringVar(&reason, "reason", "", "why the bill is voided")
	_ = cmd.MarkFlagRequired("operator")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}
