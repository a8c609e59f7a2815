package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/emmansun/gmsm/sm3"
	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/idno"
)

func newSettleCmd(g *globals) *cobra.Command {
	var idNo, name, operator, operatorName, billFile, key string
	cmd := &cobra.Command{
		Use:   "settle --id-no ID --operator ID --bill FILE",
		Short: "Settle a bill at the window, identifying the patient by ID number",
		Long: `Settle a bill for a patient identified by resident ID number (the window's
fallback when card and phone fail). The bill file is JSON:

  {"visit_no": "MZ20261123001", "dept_code": "A03", "dept_name": "Internal medicine",
   "doctor_id": "D017", "doctor_name": "...",
   "items": [{"code": "...", "name": "...", "class": "01", "quantity": 2,
              "unit_price_fen": 1250, "amount_fen": 2500}]}

Running the same command again never charges twice: the settlement's key is
derived from the ID number and the bill unless --key is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := idno.Check(idNo); err != nil {
				return usageError{fmt.Sprintf("--id-no: %v", err)}
			}
			data, err := os.ReadFile(billFile)
			if err != nil {
				return usageError{fmt.Sprintf("--bill: %v", err)}
			}
			var bill agent.Bill
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&bill); err != nil {
				return usageError{fmt.Sprintf("--bill %s: %v", billFile, err)}
			}
			if key == "" {
				sum := sm3.Sum(append([]byte(idNo+"\n"), data...))
				key = "win-" + hex.EncodeToString(sum[:12])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.Settle(cmd.Context(), key, api.SettleBody{
				Identity: agent.IdentityInput{CertType: agent.CertIDNo, CertNo: idNo, Name: name},
				Operator: agent.Operator{ID: operator, Name: operatorName, Type: agent.OpterClerk},
				Bill:     bill,
			})
			if err != nil {
				return err
			}
			return showSettlement(cmd, g, c, v)
		},
	}
	f := cmd.Flags()
	f.StringVar(&idNo, "id-no", "", "patient's resident ID number (18 characters)")
	f.StringVar(&name, "name", "", "patient's name, checked by the platform if given")
	f.StringVar(&operator, "operator", "", "your operator id")
	f.StringVar(&operatorName, "operator-name", "", "your name")
	f.StringVar(&billFile, "bill", "", "bill file (JSON)")
	f.StringVar(&key, "key", "", "idempotency key (default: derived from the ID number and the bill)")
	for _, n := range []string{"id-no", "operator", "bill"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// showSettlement prints a settlement: its receipt when it has one, else
// its state and what to do.
func showSettlement(cmd *cobra.Command, g *globals, c *api.Client, v api.SettlementView) error {
	out := cmd.OutOrStdout()
	if g.jsonOut {
		if err := printJSON(out, v); err != nil {
			return err
		}
	} else if v.State == agent.StateSettled || v.State == agent.StateRefunded {
		text, err := c.ReceiptText(cmd.Context(), v.ID)
		if err != nil {
			return err
		}
		fmt.Fprint(out, text)
	} else {
		fmt.Fprintln(out, summary(v))
	}
	if v.State != agent.StateSettled && v.State != agent.StateRefunded {
		return notSettledError{v.State}
	}
	return nil
}
