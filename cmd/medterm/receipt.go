package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/devices/printer"
)

func newReceiptCmd(g *globals) *cobra.Command {
	var print bool
	cmd := &cobra.Command{
		Use:               "receipt SETTLEMENT-ID",
		Short:             "Show a settlement's receipt again, or print it (--print) on this terminal's receipt printer",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSettlements(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			text, err := c.ReceiptText(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !print {
				fmt.Fprint(cmd.OutOrStdout(), text)
				return nil
			}
			cfg, err := config.LoadForClient(g.configPath)
			if err != nil {
				return err
			}
			if err := printReceipt(cmd.Context(), cfg.Receipt, text); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "已打印 printed: %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print on the printer of [receipt] in the configuration")
	return cmd
}

// printReceipt prints text as the configuration says.
func printReceipt(ctx context.Context, c config.Receipt, text string) error {
	switch c.Printer {
	case "command":
		return printer.Command{Args: c.Command}.Print(ctx, text)
	case "escpos":
		return printer.ESCPOS{Device: c.Device}.Print(ctx, text)
	}
	return fmt.Errorf("%w: [receipt] printer is none: no printer on this terminal", printer.ErrPrint)
}

// receiptPrinter is the daemon's printer for the kiosk's receipts; nil
// when the terminal has none.
func receiptPrinter(c config.Receipt) func(context.Context, string) error {
	if c.Printer == "none" {
		return nil
	}
	return func(ctx context.Context, text string) error { return printReceipt(ctx, c, text) }
}
