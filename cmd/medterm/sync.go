package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/seed-a859fada/medterm/agent/api"
)

func newSyncCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Forward the backlog of deferred bills",
	}
	var timeout time.Duration
	now := &cobra.Command{
		Use:   "now",
		Short: "Forward every waiting bill now, showing progress, until the backlog is empty",
		Long: `Ask the daemon to forward every deferred and unfinished bill now, also those
waiting out a retry delay, and show a progress bar until the backlog is
empty. It stops with an error if the backlog stops shrinking for --timeout
(the platform is still unreachable, say); nothing is lost, the daemon keeps
trying.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var start api.SyncBody
			if _, err := c.Do(cmd.Context(), http.MethodPost, "/v1/sync", nil, struct{}{}, &start); err != nil {
				return err
			}
			return waitDrained(cmd.Context(), c, start.Backlog.Count, timeout, cmd.OutOrStdout(), g.jsonOut || !isTerminal(cmd.OutOrStdout()))
		},
	}
	now.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up when the backlog has not shrunk for this long")
	cmd.AddCommand(now)
	return cmd
}

// isTerminal reports whether w is a terminal, where a progress bar can
// redraw itself; elsewhere (a log, a pipe) progress is one line per step.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// waitDrained polls the status until nothing is waiting or the backlog
// has not moved for timeout. plain prints a line per step instead of a
// bar.
func waitDrained(ctx context.Context, c *api.Client, total int, timeout time.Duration, out io.Writer, plain bool) error {
	var bar *progressbar.ProgressBar
	if !plain {
		bar = progressbar.NewOptions(max(total, 1), progressbar.OptionSetWriter(out), progressbar.OptionSetDescription("forwarding"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	last, lastChange := -1, time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var st api.Status
		if err := c.Status(ctx, &st); err != nil {
			return err
		}
		left := st.Backlog.Count + st.Backlog.Unfinished
		if left > total { // bills deferred meanwhile
			total = left
			if bar != nil {
				bar.ChangeMax(total)
			}
		}
		if bar != nil {
			_ = bar.Set(total - left)
		}
		if left == 0 {
			if bar != nil {
				_ = bar.Finish()
			}
			fmt.Fprintf(out, "backlog empty: %d forwarded\n", total)
			return nil
		}
		if left != last {
			if plain {
				fmt.Fprintf(out, "forwarding: %d of %d done, %d waiting\n", total-left, total, left)
			}
			last, lastChange = left, time.Now()
		} else if time.Since(lastChange) > timeout {
			if bar != nil {
				_ = bar.Exit()
			}
			return fmt.Errorf("%d bills still waiting after %s without progress (platform: %s); the daemon keeps trying", left, timeout, onlineWord(st.Online))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func onlineWord(online bool) string {
	if online {
		return "online"
	}
	return "offline"
}
