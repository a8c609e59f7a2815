package printer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/seed-a859fada/medterm/devices/printer"
)

const receipt = "收费凭条 RECEIPT\n龚䶮 个人支付 24.00\n"

func TestACommandGetsTheReceiptOnItsInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "printed")
	p := printer.Command{Args: []string{"sh", "-c", `cat > "$0"`, out}}
	if err := p.Print(context.Background(), receipt); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); string(got) != receipt {
		t.Fatalf("printed %q", got)
	}
}

func TestAFailingCommandSaysWhy(t *testing.T) {
	p := printer.Command{Args: []string{"sh", "-c", "echo 'lp: The printer or class does not exist.' >&2; exit 1"}}
	err := p.Print(context.Background(), receipt)
	if !errors.Is(err, printer.ErrPrint) || !bytes.Contains([]byte(err.Error()), []byte("does not exist")) {
		t.Fatalf("error %v", err)
	}
}

// The device receives ESC/POS: initialise, Chinese mode, the text in
// GB18030 (䶮 is outside GBK), feed and cut.
func TestESCPOSWritesGB18030BetweenItsCommands(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "lp0")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (printer.ESCPOS{Device: dev}).Print(context.Background(), receipt); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dev)
	if !bytes.HasPrefix(got, []byte{0x1b, '@', 0x1c, '&'}) || !bytes.HasSuffix(got, []byte{0x1d, 'V', 1}) {
		t.Fatalf("no ESC/POS framing: % x", got)
	}
	body, err := simplifiedchinese.GB18030.NewDecoder().Bytes(got[4 : len(got)-6])
	if err != nil || string(body) != "收费凭条 RECEIPT\r\n龚䶮 个人支付 24.00\r\n" {
		t.Fatalf("body %q (%v)", body, err)
	}
	if err := (printer.ESCPOS{Device: filepath.Join(t.TempDir(), "missing")}).Print(context.Background(), receipt); !errors.Is(err, printer.ErrPrint) {
		t.Fatalf("a missing device: %v", err)
	}
}
