package main

import (
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/sandbox/demo"
)

func newDemoCmd() *cobra.Command {
	var medterm, dir string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play a day at the hospital against a real medterm daemon",
		Long: `Start the sandbox's insurance platform and payment channel (each on its
own loopback listener) and a medterm daemon, settle the day's bills
through the daemon's local API (the doctor's desk) and its CLI (the
window), print every receipt, reconcile both ledgers, and stop
everything that was started. Every scenario states what it must show;
the command fails if one does not, or if the journal and the two
ledgers disagree.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := exec.LookPath(medterm)
			if err != nil {
				return usageError{"--medterm: " + err.Error()}
			}
			return demo.Run(cmd.Context(), demo.RunOptions{Medterm: bin, Dir: dir, Keep: keep, Out: cmd.OutOrStdout()})
		},
	}
	f := cmd.Flags()
	f.StringVar(&medterm, "medterm", "medterm", "the medterm binary to run")
	f.StringVar(&dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	f.BoolVar(&keep, "keep", false, "keep the working directory (logs, journal, configuration)")
	return cmd
}
