package glue

import (
	"context"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/scanner"
)

// Codes hands the codes a scanner reads on to the kiosk as the core's
// agent.ScannedCode, until ctx ends. A code taken from the scanner as ctx
// ends is dropped, as the scanner itself drops one it cannot hand on.
func Codes(ctx context.Context, in <-chan scanner.Code) <-chan agent.ScannedCode {
	out := make(chan agent.ScannedCode)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-in:
				select {
				case out <- agent.ScannedCode{Text: c.Text, At: c.At, Source: c.Source}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
