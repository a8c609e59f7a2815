package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/emmansun/gmsm/sm3"
	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/idno"
)

func newSettleCmd(g *globals) *cobra.Command {
	var idNo, name, card, scan, held, operator, operatorName, billFile, key string
	cmd := &cobra.Command{
		Use:   "settle (--card [READER] | --scan ID | --id-no ID) --operator ID (--bill FILE | --held BILL-ID)",
		Short: "结算 Settle a bill at the window: for the card in the reader, the code just scanned, or an ID number",
		Long: `Settle a bill at the window for the patient identified by the card in a
reader (--card, the desk's reader by default), by the code scanned at this
terminal (--scan latest or a scan id), or by resident ID number (--id-no,
the fallback when card and phone fail). The bill is either a bill the HIS
left for the patient (--held, its id from "medterm bills") or a JSON file
(--bill):

  {"visit_no": "MZ20261123001", "dept_code": "A03", "dept_name": "内科",
   "doctor_id": "D017", "doctor_name": "...",
   "items": [{"code": "...", "name": "...", "class": "01", "quantity": 2,
              "unit_price_fen": 1250, "amount_fen": 2500}]}

Running the same command again never charges twice: the settlement's key is
derived from the patient's source and the bill unless --key is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, source, err := windowIdentity(cmd, idNo, name, card, scan)
			if err != nil {
				return err
			}
			op := agent.Operator{ID: operator, Name: operatorName, Type: agent.OpterClerk}
			c, err := g.client()
			if err != nil {
				return err
			}
			if held != "" {
				if billFile != "" {
					return usageError{"give --held or --bill, not both"}
				}
				var out api.SettledHeld
				if _, err := c.Do(cmd.Context(), "POST", "/v1/bills/"+url.PathEscape(held)+"/settle", nil,
					api.SettleHeldBody{Identity: id, Operator: op}, &out); err != nil {
					return err
				}
				return showSettlement(cmd, g, c, out.Settlement)
			}
			if billFile == "" {
				return usageError{"give the bill: --held BILL-ID (left by the HIS) or --bill FILE"}
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
				sum := sm3.Sum(append([]byte(source+"\n"), data...))
				key = "win-" + hex.EncodeToString(sum[:12])
			}
			v, err := c.Settle(cmd.Context(), key, api.SettleBody{Identity: id, Operator: op, Bill: bill})
			if err != nil {
				return err
			}
			return showSettlement(cmd, g, c, v)
		},
	}
	f := cmd.Flags()
	f.StringVar(&card, "card", "", "the card in this reader (without a value: the desk's reader)")
	f.Lookup("card").NoOptDefVal = "desk"
	f.StringVar(&scan, "scan", "", "the code scanned at this terminal: latest, or a scan id")
	f.StringVar(&idNo, "id-no", "", "patient's resident ID number (18 characters)")
	f.StringVar(&name, "name", "", "patient's name, checked by the platform if given (with --id-no)")
	f.StringVar(&held, "held", "", "a bill the HIS left for the patient (its id, from medterm bills)")
	f.StringVar(&operator, "operator", "", "your operator id")
	f.StringVar(&operatorName, "operator-name", "", "your name")
	f.StringVar(&billFile, "bill", "", "bill file (JSON)")
	f.StringVar(&key, "key", "", "idempotency key (default: derived from the patient's source and the bill)")
	_ = cmd.MarkFlagRequired("operator")
	_ = cmd.RegisterFlagCompletionFunc("card", completeReaders(g))
	_ = cmd.RegisterFlagCompletionFunc("held", completeHeld(g))
	return cmd
}

// windowIdentity is the patient of exactly one of --card, --scan and
// --id-no, and a name for where it came from (for the derived key: a retry
// after the card was taken out is still the same settlement).
func windowIdentity(cmd *cobra.Command, idNo, name, card, scan string) (agent.IdentityInput, string, error) {
	given := 0
	for _, f := range []string{"card", "scan", "id-no"} {
		if cmd.Flags().Changed(f) {
			given++
		}
	}
	if given != 1 {
		return agent.IdentityInput{}, "", usageError{"identify the patient with exactly one of --card, --scan and --id-no"}
	}
	switch {
	case card != "":
		return agent.IdentityInput{CardReader: card}, "card:" + card, nil
	case scan != "":
		return agent.IdentityInput{Scan: scan}, "scan", nil
	}
	if err := idno.Check(idNo); err != nil {
		return agent.IdentityInput{}, "", usageError{fmt.Sprintf("--id-no: %v", err)}
	}
	return agent.IdentityInput{CertType: agent.CertIDNo, CertNo: idNo, Name: name}, idNo, nil
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
