package glue_test

import (
	"context"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/devices/scanner"
)

func TestCodesReachTheKioskAsTheCoresScannedCodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan scanner.Code)
	out := glue.Codes(ctx, in)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	in <- scanner.Code{Text: "HQR0001", At: at, Source: "/dev/ttyUSB0"}
	if got := <-out; got != (agent.ScannedCode{Text: "HQR0001", At: at, Source: "/dev/ttyUSB0"}) {
		t.Fatalf("code %+v", got)
	}
}
