// Command medterm-sandbox is the two counterparties of a settlement for
// development, demos and tests: the medical-insurance platform and the
// payment channel, each on its own loopback listener, with a persona data
// set.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/paychannel"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
)

// Exit codes. Scripts branch on them; keep them stable.
const (
	exitOK      = 0
	exitFailure = 1  // anything not listed below
	exitUsage   = 2  // bad flags or arguments
	exitState   = 74 // a state file cannot be used (sysexits EX_IOERR)
	exitConfig  = 78 // secrets, personas or options refused (EX_CONFIG)
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code. Signals reach
// it as ctx's cancellation.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "medterm-sandbox:", err)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		return exitUsage
	case errors.Is(err, sandbox.ErrOptions), errors.Is(err, personas.ErrInvalid), errors.Is(err, personas.ErrVersion), errors.Is(err, protocol.ErrSecrets),
		errors.Is(err, paychannel.ErrOptions), errors.Is(err, paychannel.ErrData):
		return exitConfig
	case errors.Is(err, sandbox.ErrState), errors.Is(err, paychannel.ErrState):
		return exitState
	}
	return exitFailure
}

// usageError marks a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "medterm-sandbox",
		Short: "The reference central platform for medterm: insurance and payment, over loopback",
		Long: `medterm-sandbox plays the two counterparties the agent talks to: the
insurance platform checks signed requests and answers the national
interface's transactions with the rules of its persona data set; the
payment channel answers UnionPay ACP messages with the patients'
agreements, sources and limits. Each keeps its own state file. It is for
development, demos and tests, never for real patients.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddCommand(newServeCmd(), newSecretsCmd(), newDemoCmd(), newCardCmd(), newCodeCmd(), newOutageCmd(), newLeakscanCmd())
	return root
}
