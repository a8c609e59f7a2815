package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/sandbox/leakscan"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// errLeak is personal data found in clear.
var errLeak = errors.New("personal data in clear")

func newLeakscanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "leakscan LOG...",
		Short: "Look through logs for the patients' personal data in clear (ID numbers, names, card and account numbers)",
		Long: `leakscan reads each log and reports every line holding one of the
sandbox patients' ID numbers, names, insurance numbers, card numbers or
card account numbers, or any resident ID number or bank card number with a
valid check digit. make test runs it over everything the suite wrote. It
exits 1 when it finds any.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{"leakscan needs at least one log file"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := personas.Default()
			if err != nil {
				return err
			}
			s := leakscan.New(d)
			total := 0
			for _, path := range args {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				hits, err := s.Scan(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				for _, h := range hits {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", path, h)
				}
				total += len(hits)
			}
			if total > 0 {
				return fmt.Errorf("%w: %d lines", errLeak, total)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "leakscan: no personal data in clear in %d logs\n", len(args))
			return nil
		},
	}
}
