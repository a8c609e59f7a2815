package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/offline/journal"
)

func newJournalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Look up settlements in the journal",
		Long: `Look up settlements. The daemon is asked first; when it is not running, the
journal file is opened read-only for inspection. Personal data is masked
unless --reveal is given.`,
	}
	var reveal bool
	var states string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List settlements, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			views, err := journalViews(cmd.Context(), g, func(c *api.Client) ([]api.SettlementView, error) {
				return c.List(cmd.Context(), states, limit, reveal)
			}, func(j *journal.Journal) ([]api.SettlementView, error) {
				f := agent.ListFilter{Limit: limit}
				for _, s := range strings.Split(states, ",") {
					if s != "" {
						f.States = append(f.States, agent.State(s))
					}
				}
				list, err := j.List(cmd.Context(), f)
				out := make([]api.SettlementView, 0, len(list))
				for _, s := range list {
					out = append(out, api.View(s, reveal, false))
				}
				return out, err
			})
			if err != nil {
				return err
			}
			if g.jsonOut {
				return printJSON(cmd.OutOrStdout(), views)
			}
			printTable(cmd.OutOrStdout(), []string{"结算号 ID", "状态 State", "时间 Time", "患者 Patient", "总额 Total", "个人部分 Patient's part"}, settlementRows(views))
			return nil
		},
	}
	list.Flags().StringVar(&states, "state", "", "only these states, comma-separated (e.g. in_doubt,failed)")
	_ = list.RegisterFlagCompletionFunc("state", completeStates)
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	show := &cobra.Command{
		Use:               "show SETTLEMENT-ID",
		Short:             "Show one settlement with its history",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSettlements(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			views, err := journalViews(cmd.Context(), g, func(c *api.Client) ([]api.SettlementView, error) {
				v, err := c.Get(cmd.Context(), args[0], reveal)
				return []api.SettlementView{v}, err
			}, func(j *journal.Journal) ([]api.SettlementView, error) {
				s, err := j.Get(cmd.Context(), args[0])
				if errors.Is(err, agent.ErrNotFound) {
					if cfg, cerr := config.LoadForClient(g.configPath); cerr == nil {
						s, err = j.Archived(cmd.Context(), cfg.Retention.ArchiveFile, args[0])
					}
				}
				if err != nil {
					return nil, err
				}
				return []api.SettlementView{api.View(s, reveal, true)}, nil
			})
			if err != nil {
				return err
			}
			v := views[0]
			if g.jsonOut {
				return printJSON(cmd.OutOrStdout(), v)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, summary(v))
			fmt.Fprintf(out, "  patient   %s  ID %s  (cert type %s)\n", v.Patient.Name, v.Patient.IDNo, v.CertType)
			fmt.Fprintf(out, "  split     %s\n", v.Split)
			if v.SetlID != "" {
				fmt.Fprintf(out, "  setl_id   %s\n", v.SetlID)
			}
			for infno, m := range v.Msgids {
				fmt.Fprintf(out, "  msgid     %s %s\n", infno, m)
			}
			for _, e := range v.Events {
				fmt.Fprintf(out, "  %s  %-10s %s\n", e.At.Format("2006-01-02 15:04:05"), e.State, e.Note)
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{list, show} {
		c.Flags().BoolVar(&reveal, "reveal", false, "show personal data in full")
	}
	cmd.AddCommand(list, show)
	return cmd
}

// journalViews asks the daemon, or reads the journal file read-only when
// the daemon is not running.
func journalViews(ctx context.Context, g *globals, viaAPI func(*api.Client) ([]api.SettlementView, error), direct func(*journal.Journal) ([]api.SettlementView, error)) ([]api.SettlementView, error) {
	c, err := g.client()
	if err == nil {
		views, err := viaAPI(c)
		if !errors.Is(err, api.ErrDaemonDown) {
			return views, err
		}
	}
	cfg, cerr := config.LoadForClient(g.configPath)
	if cerr != nil {
		if err != nil {
			return nil, err
		}
		return nil, cerr
	}
	j, err := journal.Open(cfg.Journal.Path, journal.Options{
		KeyFile: cfg.Journal.KeyFile, Institution: cfg.Institution.Code, Slot: cfg.Terminal.Slot,
		IDPrefix: cfg.Terminal.ID, ReadOnly: true, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("the daemon is not running and the journal cannot be read: %w", err)
	}
	defer j.Close()

	return direct(j)
}
