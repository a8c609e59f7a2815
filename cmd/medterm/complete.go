package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
)

// Dynamic shell completion: settlement ids, held bills and readers come
// from the running daemon (nothing is offered when it is down), states
// from the core.

type completer = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// completeAsk asks the daemon briefly: completion must not hang a shell.
func completeAsk(g *globals, fn func(ctx context.Context, c *api.Client) []string) completer {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		c, err := g.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var out []string
		for _, v := range fn(ctx, c) {
			if strings.HasPrefix(v, prefix) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeSettlements offers the latest settlements' ids, with their state.
func completeSettlements(g *globals) completer {
	inner := completeAsk(g, func(ctx context.Context, c *api.Client) []string {
		list, err := c.List(ctx, "", 200, false)
		if err != nil {
			return nil
		}
		out := make([]string, 0, len(list))
		for _, v := range list {
			out = append(out, v.ID+"\t"+string(v.State)+" "+v.Split.Total.String())
		}
		return out
	})
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return inner(cmd, args, prefix)
	}
}

// completeReaders offers the desk's card readers.
func completeReaders(g *globals) completer {
	return completeAsk(g, func(ctx context.Context, c *api.Client) []string {
		var body struct {
			Readers []agent.ReaderView `json:"readers"`
		}
		if _, err := c.Do(ctx, "GET", "/v1/cards", nil, nil, &body); err != nil {
			return nil
		}
		out := []string{"desk"}
		for _, r := range body.Readers {
			out = append(out, r.Reader)
		}
		return out
	})
}

// completeHeld offers the open held bills.
func completeHeld(g *globals) completer {
	return completeAsk(g, func(ctx context.Context, c *api.Client) []string {
		var l api.HeldList
		if _, err := c.Do(ctx, "GET", "/v1/bills", nil, nil, &l); err != nil {
			return nil
		}
		out := make([]string, 0, len(l.Bills))
		for _, b := range l.Bills {
			out = append(out, b.ID+"\t"+b.Patient+" "+b.Total.String())
		}
		return out
	})
}

// allStates are the settlement states, for --state.
var allStates = []agent.State{agent.StateAccepted, agent.StateSettling, agent.StatePaying, agent.StateSettled,
	agent.StateDeclined, agent.StateFailed, agent.StateInDoubt, agent.StateRefunding, agent.StateRefunded,
	agent.StateDeferred, agent.StateArrears, agent.StateVoided, agent.StateReversing}

// completeStates offers states, one more after each comma.
func completeStates(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	done, last := "", prefix
	if i := strings.LastIndex(prefix, ","); i >= 0 {
		done, last = prefix[:i+1], prefix[i+1:]
	}
	var out []string
	for _, s := range allStates {
		if strings.HasPrefix(string(s), last) {
			out = append(out, done+string(s))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}
