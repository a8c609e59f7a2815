package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/agent/events"
	"github.com/seed-a859fada/medterm/agent/glue"
	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/devices/pcsc"
	"github.com/seed-a859fada/medterm/devices/psam"
	"github.com/seed-a859fada/medterm/devices/sscard"
)

// cardFlags are the PC/SC settings of the card commands: from the
// configuration when there is one, else the flags.
type cardFlags struct {
	reader, psamReader string
	keyID              int
}

func newCardCmd(g *globals) *cobra.Command {
	cf := &cardFlags{}
	cmd := &cobra.Command{
		Use:   "card",
		Short: "Read the social-security card in a reader (PC/SC, shared with the daemon)",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&cf.reader, "reader", "", "reader name (default: the first reader with a card that is not the PSAM's)")
	pf.StringVar(&cf.psamReader, "psam-reader", "", "the PSAM's reader for 3rd-generation cards (default: from the configuration)")
	pf.IntVar(&cf.keyID, "key-id", 0, "card key id for external authentication (default: from the configuration, else 4)")
	var format string
	var reveal bool
	read := &cobra.Command{
		Use:   "read",
		Short: "Read the card once and print the holder's identity",
		Long: `Read the card now in the reader and print the holder's identity: masked
JSON by default, in full with --reveal, or the iReadCardBas string that
hospital systems parse (--format ireadcardbas, always in full: it is meant
for a program, not a screen). The JSON includes the account number of the
card's financial account (account_no) when the card has one; iReadCardBas
has no field for it. Works whether or not the daemon runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "ireadcardbas" {
				return usageError{"--format must be json or ireadcardbas"}
			}
			readers, rd, skip := cf.open(g)
			defer readers.Close()
			reader, err := pickReader(cmd.Context(), glue.Readers{R: readers}, cf.reader, skip)
			if err != nil {
				return err
			}
			card, err := readers.Connect(cmd.Context(), reader)
			if err != nil {
				return fmt.Errorf("reader %q: %w", reader, err)
			}
			defer card.Close()
			id, err := rd.Read(cmd.Context(), card)
			if err != nil && !errors.Is(err, sscard.ErrCardExpired) {
				return fmt.Errorf("read the card in %q: %w", reader, err)
			}
			if format == "ireadcardbas" {
				fmt.Fprintln(cmd.OutOrStdout(), id.ReadCardBas("", ""))
			} else {
				v := *id
				if !reveal {
					v.IDNumber, v.Name, v.CardNumber, v.CardID = mask.IDNo(v.IDNumber), mask.Name(v.Name), mask.Card(v.CardNumber), mask.Card(v.CardID)
					v.AccountNo = mask.PAN(v.AccountNo)
					v.BirthDate = ""
				}
				if perr := printJSON(cmd.OutOrStdout(), v); perr != nil {
					return perr
				}
			}
			if id.AccountErr != nil {
				// Beside the output, which stays what a program parses: the
				// holder was read, the financial account was not.
				fmt.Fprintf(cmd.ErrOrStderr(), "medterm: the card's financial account could not be read: %v\n", id.AccountErr)
			}
			return err // an expired card is printed, then reported
		},
	}
	read.Flags().StringVar(&format, "format", "json", "json or ireadcardbas")
	read.Flags().BoolVar(&reveal, "reveal", false, "print personal data in full")
	watch := &cobra.Command{
		Use:   "watch",
		Short: "Print each card inserted or removed until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			readers, rd, skip := cf.open(g)
			defer readers.Close()
			return watchCards(cmd.Context(), cmd.OutOrStdout(), glue.Readers{R: readers}, rd, skip)
		},
	}
	cmd.AddCommand(read, watch)
	return cmd
}

// open returns the PC/SC reader, the card reader and the readers to skip.
func (cf *cardFlags) open(g *globals) (*pcsc.Reader, *sscard.Reader, []string) {
	c, err := config.LoadForClient(g.configPath)
	if err != nil {
		c = config.Default() // reading a card needs no daemon configuration
	}
	psamReader, keyID := cf.psamReader, cf.keyID
	if psamReader == "" {
		psamReader = c.Cards.PSAMReader
	}
	if keyID == 0 {
		keyID = c.Cards.KeyID
	}
	readers := pcsc.New()
	rd := &sscard.Reader{KeyID: byte(keyID)}
	skip := slices.Clone(c.Cards.SkipReaders)
	if psamReader != "" {
		rd.Module = psam.New(readers, psamReader)
		skip = append(skip, psamReader)
	}
	return readers, rd, skip
}

// pickReader returns want, or the first reader holding a card.
func pickReader(ctx context.Context, readers agent.CardReader, want string, skip []string) (string, error) {
	if want != "" {
		return want, nil
	}
	states, err := readers.WaitChange(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("list card readers: %w", err)
	}
	for _, s := range states {
		if s.Present && !slices.Contains(skip, s.Reader) {
			return s.Reader, nil
		}
	}
	return "", fmt.Errorf("%w: no reader holds a card (readers: %d)", agent.ErrNoCard, len(states))
}

// watchCards runs a Desk and prints its events.
func watchCards(ctx context.Context, out io.Writer, readers agent.CardReader, rd *sscard.Reader, skip []string) error {
	bus := newBus()
	sub := bus.Subscribe(16)
	defer func() { sub.Close() }()
	desk := agent.NewDesk(agent.DeskConfig{Readers: readers, Identifier: glue.Identifier{R: rd}, Events: bus, Skip: skip})
	errc := make(chan error, 1)
	go func() { errc <- desk.Run(ctx) }()
	fmt.Fprintln(out, "等待插卡（Ctrl-C 结束） waiting for cards (Ctrl-C to stop)")
	var last uint64
	for {
		select {
		case err := <-errc:
			return err
		case ev, ok := <-sub.C:
			if !ok {
				// Cut off for falling behind (a blocked terminal): pick up
				// after the last one printed, so none is skipped.
				sub = bus.Resume(last, 16)
				for _, ev := range sub.Replay {
					printCardEvent(out, ev)
					last = ev.Seq
				}
				continue
			}
			printCardEvent(out, ev)
			last = ev.Seq
		}
	}
}

// printCardEvent says what happened at a reader in words a cashier reads,
// the holder masked.
func printCardEvent(out io.Writer, ev events.Event) {
	at := ev.At.In(agent.CST).Format("15:04:05")
	switch d := ev.Data.(type) {
	case agent.CardIdentity:
		state := "有效 valid until " + d.ExpiryDate
		if d.Expired {
			state = "已过期 EXPIRED on " + d.ExpiryDate
		}
		fmt.Fprintf(out, "%s 插卡 card in    %s: %s %s, 卡号 card %s, %s 社保卡 v%s, %s\n",
			at, d.Reader, d.Name, d.IDNo, d.CardNo, genderWord(d.Gender), d.Version, state)
	case map[string]string:
		switch ev.Type {
		case events.CardError:
			fmt.Fprintf(out, "%s 读卡失败 unreadable %s: %s\n", at, d["reader"], d["error"])
		default:
			fmt.Fprintf(out, "%s 拔卡 card out   %s\n", at, d["reader"])
		}
	default:
		fmt.Fprintf(out, "%s %s\n", at, ev.Type)
	}
}

func genderWord(g string) string {
	switch g {
	case "1":
		return "男 male"
	case "2":
		return "女 female"
	}
	return ""
}
