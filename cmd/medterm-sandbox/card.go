package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/sandbox"
	"github.com/seed-a859fada/medterm/sync/sandbox/cards"
)

func newCardCmd() *cobra.Command {
	af := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "card",
		Short: "Insert and remove the patients' social-security cards in the running sandbox's readers",
		Long: `card talks to a running "medterm-sandbox serve --vpcd ADDR": it inserts a
persona's virtual card into a vpcd card reader, where pcscd and the agent
see it as a real card, removes it, and lists what is in the readers.`,
	}
	af.register(cmd.PersistentFlags())

	var reader int
	var faults string
	insert := &cobra.Command{
		Use:   "insert PERSONA",
		Short: "Insert the persona's card into a reader",
		Args:  exactArgs(1, "insert takes one persona key, e.g. acct-first"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			req := sandbox.CardInsert{Persona: args[0], Reader: reader}
			if faults != "" {
				if err := json.Unmarshal([]byte(faults), &req.Faults); err != nil {
					return usageError{fmt.Sprintf("--faults: %v", err)}
				}
			}
			var slot cards.Slot
			if _, err := c.call(cmd.Context(), http.MethodPost, "/admin/cards/insert", req, &slot); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reader %d: %s's card (%s) inserted\n", slot.Reader, slot.Persona, slot.Version)
			return nil
		},
	}
	insert.Flags().IntVar(&reader, "reader", 0, "card reader number, from 0 in the order of serve's --vpcd flags")
	insert.Flags().StringVar(&faults, "faults", "", `fault script, e.g. '{"pull_after": 12}' or '{"chain": 7, "wrong_le": true}'`)

	var removeReader int
	remove := &cobra.Command{
		Use:   "remove",
		Short: "Take the card out of a reader",
		Args:  exactArgs(0, "remove takes no arguments; --reader N names the reader"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			var slot cards.Slot
			if _, err := c.call(cmd.Context(), http.MethodPost, "/admin/cards/remove", sandbox.CardRemove{Reader: removeReader}, &slot); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reader %d: %s's card removed\n", slot.Reader, slot.Persona)
			return nil
		},
	}
	remove.Flags().IntVar(&removeReader, "reader", 0, "card reader number")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "Show the readers and the cards in them",
		Args:  exactArgs(0, "list takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := af.client()
			if err != nil {
				return err
			}
			var l cards.Listing
			raw, err := c.call(cmd.Context(), http.MethodGet, "/admin/cards", nil, &l)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			printListing(cmd.OutOrStdout(), l)
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the admin API's JSON")

	cmd.AddCommand(insert, remove, list)
	return cmd
}

func printListing(w io.Writer, l cards.Listing) {
	if len(l.Readers) == 0 {
		fmt.Fprintln(w, "no card readers (serve --vpcd ADDR adds one)")
	}
	for _, s := range l.Readers {
		what := "empty"
		switch {
		case s.Persona != "":
			what = fmt.Sprintf("%s (%s) since %s", s.Persona, s.Version, s.Since)
		case s.Pulled != "":
			what = fmt.Sprintf("empty (%s's card was pulled out by its fault script)", s.Pulled)
		}
		fmt.Fprintf(w, "reader %d  %-21s %s\n", s.Reader, s.Addr, what)
	}
	if l.PSAM != nil {
		state := "inserted"
		if !l.PSAM.Inserted {
			state = "empty"
		}
		fmt.Fprintf(w, "PSAM      %-21s %s\n", l.PSAM.Addr, state)
	}
}

// exactArgs refuses any other number of arguments as a usage error.
func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Sprintf("%s (got %q)", msg, strings.Join(args, " "))}
		}
		return nil
	}
}
