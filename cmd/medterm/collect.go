package main

import (
	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
)

func newCollectCmd(g *globals) *cobra.Command {
	var operator, operatorName, channel, reference string
	cmd := &cobra.Command{
		Use:               "collect SETTLEMENT-ID --channel cash|wechat|alipay|card --operator ID [--reference NO]",
		Short:             "Record the patient's part as paid at the window (cash, WeChat, Alipay, a card at the POS) / 记录窗口收取的个人支付",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSettlements(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.Collect(cmd.Context(), args[0], api.CollectBody{
				Operator: agent.Operator{ID: operator, Name: operatorName, Type: agent.OpterClerk},
				Channel:  channel, Reference: reference,
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
	f.StringVar(&channel, "channel", "", "how it was paid: cash, wechat, alipay or card")
	f.StringVar(&reference, "reference", "", "the channel's transaction number (not for cash)")
	_ = cmd.MarkFlagRequired("operator")
	_ = cmd.MarkFlagRequired("channel")
	return cmd
}
