package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/qrterm"
)

// pngModule is the pixels per module of --png: about 400 pixels square for
// a signed code, as a phone screen shows it.
const pngModule = 6

func newCodeCmd() *cobra.Command {
	af := &adminFlags{}
	var pngFile string
	var qr bool
	cmd := &cobra.Command{
		Use:   "code PERSONA",
		Short: "Show the next insurance QR code of a persona's phone",
		Long: `code asks the running sandbox for the persona's phone's next code, at the
sandbox's time, and prints its text: a signed code (YB1:...) that a
terminal can verify offline, or for a national-style phone an opaque code
the platform remembers for 60 s. Every call is a new code: a code already
used at a terminal is refused as replayed. --qr draws it as a QR code in
the terminal, --png writes the QR code as a picture for a camera or a
scanner to read.`,
		Args: exactArgs(1, "code takes one persona key, e.g. acct-first"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			var code sandbox.PhoneCode
			if _, err := c.call(cmd.Context(), http.MethodGet, "/admin/phones/"+url.PathEscape(args[0])+"/code?format=json", nil, &code); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if qr {
				drawing, err := qrterm.Terminal(code.Text)
				if err != nil {
					return err
				}
				fmt.Fprint(out, drawing)
			}
			if pngFile != "" {
				img, err := qrterm.PNG(code.Text, pngModule)
				if err != nil {
					return err
				}
				if err := os.WriteFile(pngFile, img, 0o644); err != nil {
					return fmt.Errorf("--png: %w", err)
				}
			}
			fmt.Fprintln(out, code.Text)
			if code.Kind == sandbox.CodeSigned {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s code, counter %d, serial %s, key %d, valid until %s\n",
					code.Persona, code.Alg, code.Counter, code.Serial, code.KeyID, code.Expires.Format("15:04:05"))
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: opaque code, valid until %s\n", code.Persona, code.Expires.Format("15:04:05"))
			}
			return nil
		},
	}
	af.register(cmd.Flags())
	cmd.Flags().StringVar(&pngFile, "png", "", "also write the QR code to this PNG file")
	cmd.Flags().BoolVar(&qr, "qr", false, "also draw the QR code in the terminal")
	return cmd
}
