package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newReceiptCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "receipt SETTLEMENT-ID",
		Short: "Print a settlement's receipt again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			text, err := c.ReceiptText(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), text)
			return nil
		},
	}
}
