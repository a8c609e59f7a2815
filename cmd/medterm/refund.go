package main

import (
	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
)

func newRefundCmd(g *globals) *cobra.Command {
	var operator, operatorName, reason string
	cmd := &cobra.Command{
		Use:               "refund SETTLEMENT-ID --operator ID",
		Short:             "Refund a settled bill: every part goes back where it came from",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSettlements(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.Refund(cmd.Context(), args[0], api.RefundBody{
				Operator: agent.Operator{ID: operator, Name: operatorName, Type: agent.OpterClerk},
				Reason:   reason,
			})
			if err != nil {
				return err
			}
			return showSettlement(cmd, g, c, v)
		},
	}
	f := cmd.Flags()
	f.StringVar(&operator, "operator", "", "your operator id")
	f.StringVar(&operatorName, "operator-name", "", "your name")
	f.StringVar(&reason, "reason", "", "why the bill is refunded")
	_ = cmd.MarkFlagRequired("operator")
	return cmd
}
