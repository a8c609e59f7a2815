package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/imagecode"
)

func newScanCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Dynamic insurance QR codes: decode an image, watch the kiosk's scans",
	}
	var verify, reveal bool
	image := &cobra.Command{
		Use:   "image FILE",
		Short: "Decode the QR code in a PNG or JPEG and say whether it is one of our signed codes or an opaque one",
		Long: `Decode the QR code in a picture (a kiosk camera frame, a screenshot) and
print its text and kind: "signed" (our format, verifiable offline) or
"opaque" (a national-style code only the platform can check). The text is
a patient's credential: it is printed only with --reveal. With --verify the
picture goes to the daemon, which verifies a signed code offline (this
uses the code: a second scan of it is a replay).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{err.Error()}
			}
			if verify {
				return scanViaDaemon(cmd, g, args[0], data)
			}
			dec, err := imagecode.New(imagecode.DefaultLimits())
			if err != nil {
				return err
			}
			text, err := dec.Decode(strings.NewReader(string(data)))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			kind := agent.ScanOpaque
			if credential.IsOurs(text) {
				kind = agent.ScanSigned
			}
			shown := fmt.Sprintf("%d characters (--reveal to print)", len(text))
			if reveal {
				shown = text
			}
			if g.jsonOut {
				v := map[string]any{"kind": kind, "length": len(text)}
				if reveal {
					v["text"] = text
				}
				return printJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kind: %s\ntext: %s\n", kind, shown)
			return nil
		},
	}
	image.Flags().BoolVar(&verify, "verify", false, "have the daemon verify the code (a scan at this kiosk)")
	image.Flags().BoolVar(&reveal, "reveal", false, "print the code's text")
	watch := &cobra.Command{
		Use:   "watch",
		Short: "Print each code scanned at this kiosk until interrupted (from the daemon's event stream)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return watchEvents(cmd.Context(), cmd, g, "code.scanned")
		},
	}
	cmd.AddCommand(image, watch)
	return cmd
}

func scanViaDaemon(cmd *cobra.Command, g *globals, name string, data []byte) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	ct := "image/png"
	if ext := strings.ToLower(filepath.Ext(name)); ext == ".jpg" || ext == ".jpeg" {
		ct = "image/jpeg"
	}
	var sc agent.Scan
	if _, err := c.DoRaw(cmd.Context(), http.MethodPost, "/v1/scans/image", ct, data, &sc); err != nil {
		return err
	}
	if g.jsonOut {
		return printJSON(cmd.OutOrStdout(), sc)
	}
	fmt.Fprintln(cmd.OutOrStdout(), scanLine(sc))
	return nil
}

// scanLine is a scan in one line.
func scanLine(sc agent.Scan) string {
	switch {
	case sc.Rejection != nil:
		return fmt.Sprintf("%s %s code REFUSED (%s): %s / %s", sc.ID, sc.Kind, sc.Rejection.Reason, sc.Rejection.ZH, sc.Rejection.EN)
	case sc.Verified:
		return fmt.Sprintf("%s signed code verified offline, credential %s", sc.ID, sc.Serial)
	default:
		return fmt.Sprintf("%s %s code: the platform checks it when the bill is settled", sc.ID, sc.Kind)
	}
}

// watchEvents prints the daemon's events of the given type (all if "").
func watchEvents(ctx context.Context, cmd *cobra.Command, g *globals, only string) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	body, err := c.Stream(ctx, "/v1/events")
	if err != nil {
		return err
	}
	defer body.Close()
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "watching (Ctrl-C to stop)")
	return readEvents(body, func(typ string, data []byte) {
		if only != "" && typ != only {
			return
		}
		if g.jsonOut {
			fmt.Fprintln(out, string(data))
			return
		}
		var ev struct {
			Data agent.Scan `json:"data"`
		}
		if typ == "code.scanned" && json.Unmarshal(data, &ev) == nil {
			fmt.Fprintln(out, scanLine(ev.Data))
			return
		}
		fmt.Fprintf(out, "%s %s\n", typ, data)
	})
}

// readEvents parses a Server-Sent Events stream.
func readEvents(r io.Reader, fn func(typ string, data []byte)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var typ string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if typ != "" {
				fn(typ, data)
			}
			typ, data = "", nil
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: ")...)
		}
	}
	return sc.Err()
}
