// Package printer prints receipts on the thermal printers of windows and
// kiosks: through a command (CUPS's lp by default, which takes UTF-8
// text), or straight to the device in ESC/POS, the command set of
// receipt printers, in GB18030, which their Chinese fonts read.
package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// ErrPrint is a receipt that could not be printed.
var ErrPrint = errors.New("receipt not printed")

// Command prints by running a command with the text on its standard input:
// ["lp"], ["lp", "-d", "receipt"], or any program of the hospital's.
type Command struct {
	Args []string
}

// Print runs the command. Its output and exit status name a failure.
func (c Command) Print(ctx context.Context, text string) error {
	if len(c.Args) == 0 {
		return fmt.Errorf("%w: no print command", ErrPrint)
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s: %w: %s", ErrPrint, c.Args[0], err, strings.TrimSpace(out.String()))
	}
	return nil
}

// ESC/POS commands used: initialise, Chinese character mode, feed and a
// partial cut.
var (
	escInit    = []byte{0x1b, '@'}
	fsChinese  = []byte{0x1c, '&'}
	feedAndCut = []byte{0x1b, 'd', 4, 0x1d, 'V', 1}
)

// ESCPOS prints to a receipt printer's device file (/dev/usb/lp0, a
// serial port, or on Windows a shared printer's port).
type ESCPOS struct {
	Device string
}

// Encode is what ESCPOS writes for text: the printer initialised, in
// Chinese mode, the text in GB18030 with CR LF line ends, fed and cut.
func Encode(text string) ([]byte, error) {
	body, err := simplifiedchinese.GB18030.NewEncoder().String(strings.ReplaceAll(text, "\n", "\r\n"))
	if err != nil {
		return nil, fmt.Errorf("%w: text not printable in GB18030: %w", ErrPrint, err)
	}
	var b bytes.Buffer
	b.Write(escInit)
	b.Write(fsChinese)
	b.WriteString(body)
	b.Write(feedAndCut)
	return b.Bytes(), nil
}

// Print writes the receipt to the device in one write.
func (p ESCPOS) Print(ctx context.Context, text string) error {
	data, err := Encode(text)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p.Device, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPrint, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %w", ErrPrint, p.Device, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrPrint, p.Device, err)
	}
	return nil
}
