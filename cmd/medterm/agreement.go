package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/money"
)

// medterm agreement: the patient's password-free agreement at the window,
// the cashier confirming for the patient at the counter.

func newAgreementCmd(g *globals) *cobra.Command {
	var idNo, name, card, scan, operator string
	cmd := &cobra.Command{
		Use:   "agreement",
		Short: "免密支付签约 The patient's password-free payment agreement: show, sign, limits, cancel",
		Long: `Show, sign, lower the limits of, or cancel the password-free payment
agreement of the patient identified by the card in a reader (--card), the
code scanned at this terminal (--scan) or the ID number (--id-no). At the
window the cashier confirms with the patient; the kiosk page offers the
same to the patient alone.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&card, "card", "", "the card in this reader (without a value: the desk's reader)")
	pf.Lookup("card").NoOptDefVal = "desk"
	pf.StringVar(&scan, "scan", "", "the code scanned at this terminal: latest, or a scan id")
	pf.StringVar(&idNo, "id-no", "", "the patient's resident ID number")
	pf.StringVar(&name, "name", "", "the patient's name (with --id-no)")
	pf.StringVar(&operator, "operator", "", "your operator id")
	_ = cmd.RegisterFlagCompletionFunc("card", completeReaders(g))

	patient := func(c *cobra.Command) (agent.IdentityInput, agent.Operator, error) {
		id, _, err := windowIdentity(c, idNo, name, card, scan)
		if err != nil {
			return id, agent.Operator{}, err
		}
		if operator == "" && c.Name() != "show" {
			return id, agent.Operator{}, usageError{"--operator is required: who confirmed it with the patient"}
		}
		op := agent.Operator{ID: operator, Type: agent.OpterClerk}
		if operator == "" {
			op.ID = "window"
		}
		return id, op, nil
	}
	print := func(c *cobra.Command, a agent.Agreement) error {
		if g.jsonOut {
			return printJSON(c.OutOrStdout(), a)
		}
		var srcs []string
		for _, s := range a.Sources {
			srcs = append(srcs, s.Kind+" "+s.Masked)
		}
		out := c.OutOrStdout()
		fmt.Fprintf(out, "签约 Agreement  %s\n", a.ID)
		fmt.Fprintf(out, "支付来源 Sources %s\n", strings.Join(srcs, ", "))
		fmt.Fprintf(out, "免密限额 Limits  单笔 a payment %s, 单日 a day %s\n", a.PerPayment, a.Daily)
		fmt.Fprintf(out, "账户优先 Account first %v\n", a.AccountFirst)
		if a.Family != nil {
			fmt.Fprintf(out, "亲情付 Family pay %s, %s, confirm first %v\n", a.Family.Relation, a.Family.Signer, a.Family.ConfirmFirst)
		}
		return nil
	}
	call := func(c *cobra.Command, path string, body any) error {
		cl, err := g.client()
		if err != nil {
			return err
		}
		var a agent.Agreement
		if _, err := cl.Do(c.Context(), "POST", path, nil, body, &a); err != nil {
			return err
		}
		return print(c, a)
	}

	show := &cobra.Command{Use: "show", Short: "Show the agreement", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			id, op, err := patient(c)
			if err != nil {
				return err
			}
			return call(c, "/v1/agreements/find", api.AgreementFindBody{Identity: id, Operator: op})
		}}
	var source, cardNo string
	var accountFirst bool
	sign := &cobra.Command{Use: "sign --source card_account|bank_card [--card-no NO]", Short: "Sign a source for password-free payment", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			id, op, err := patient(c)
			if err != nil {
				return err
			}
			if source != agent.SourceCardAccount && source != agent.SourceBankCard {
				return usageError{"--source must be card_account (the card in the reader's own account) or bank_card (with --card-no)"}
			}
			return call(c, "/v1/agreements", api.SignBody{Identity: id, Source: source, CardNo: cardNo, AccountFirst: accountFirst, Operator: op})
		}}
	sign.Flags().StringVar(&source, "source", "", "card_account or bank_card")
	sign.Flags().StringVar(&cardNo, "card-no", "", "the bank card's number, for bank_card")
	sign.Flags().BoolVar(&accountFirst, "account-first", false, "the personal insurance account pays first")
	var perPayment, daily int64
	limits := &cobra.Command{Use: "limits [--per-payment CNY] [--daily CNY]", Short: "Lower the password-free limits (below 300 a payment, 1,000 a day)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			id, op, err := patient(c)
			if err != nil {
				return err
			}
			if perPayment <= 0 && daily <= 0 {
				return usageError{"give --per-payment, --daily or both, in whole yuan"}
			}
			return call(c, "/v1/agreements/limits", api.LimitsBody{Identity: id, PerPayment: money.CNY(perPayment), Daily: money.CNY(daily), Operator: op})
		}}
	limits.Flags().Int64Var(&perPayment, "per-payment", 0, "the most a payment may take without a password, in yuan")
	limits.Flags().Int64Var(&daily, "daily", 0, "the most a day may take without a password, in yuan")
	cancel := &cobra.Command{Use: "cancel", Short: "Cancel the agreement", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			id, op, err := patient(c)
			if err != nil {
				return err
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			if _, err := cl.Do(c.Context(), "POST", "/v1/agreements/cancel", nil, api.AgreementFindBody{Identity: id, Operator: op}, nil); err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), "已取消签约 agreement cancelled")
			return nil
		}}
	cmd.AddCommand(show, sign, limits, cancel)
	return cmd
}
