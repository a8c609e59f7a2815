// Command medterm is the terminal agent: the daemon (medterm serve) on
// clinic PCs and kiosks, and the window staff's command line, which talks
// to the daemon's local API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// Started by Windows' service control manager: run as the service.
	if code, ran := runService(); ran {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal exits at once: nothing is lost, the journal is
		// written before anything is answered or sent.
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(os.Stderr, "medterm: second signal, exiting now")
		os.Exit(exitInterrupted)
	}()
	root := newRoot()
	root.SetContext(ctx)
	err := root.ExecuteContext(ctx)
	os.Exit(report(root, err))
}
