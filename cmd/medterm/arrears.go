package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newArrearsCmd(g *globals) *cobra.Command {
	var reveal bool
	cmd := &cobra.Command{
		Use:   "arrears",
		Short: "List deferred bills the platform declined: the patient was treated, the hospital must collect",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			views, err := c.List(cmd.Context(), "arrears", 1000, reveal)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return printJSON(cmd.OutOrStdout(), views)
			}
			if len(views) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no arrears")
				return nil
			}
			for _, v := range views {
				fmt.Fprintln(cmd.OutOrStdout(), summary(v))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "show personal data in full")
	return cmd
}
