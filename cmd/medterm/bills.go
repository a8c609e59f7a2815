package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/idno"
)

func newBillsCmd(g *globals) *cobra.Command {
	var idNo, state string
	cmd := &cobra.Command{
		Use:   "bills [--id-no ID] [--state open|settled|cancelled|all]",
		Short: "待缴费账单 Bills the HIS left for the kiosk and the window: every open one, or a patient's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var l api.HeldList
			if idNo != "" {
				if err := idno.Check(idNo); err != nil {
					return usageError{fmt.Sprintf("--id-no: %v", err)}
				}
				_, err = c.Do(cmd.Context(), "POST", "/v1/bills/find", nil,
					api.FindBody{Identity: agent.IdentityInput{CertType: agent.CertIDNo, CertNo: idNo}, State: state}, &l)
			} else {
				_, err = c.Do(cmd.Context(), "GET", "/v1/bills?state="+state, nil, nil, &l)
			}
			if err != nil {
				return err
			}
			if g.jsonOut {
				return printJSON(cmd.OutOrStdout(), l)
			}
			rows := make([][]string, 0, len(l.Bills))
			for _, b := range l.Bills {
				rows = append(rows, []string{b.ID, b.State, b.CreatedAt.In(agent.CST).Format("01-02 15:04"), b.Patient,
					b.Bill.DeptName, b.Total.String(), b.Settlement})
			}
			printTable(cmd.OutOrStdout(), []string{"账单 Bill", "状态 State", "时间 Time", "患者 Patient", "科室 Dept", "总额 Total", "结算号 Settlement"}, rows)
			return nil
		},
	}
	cmd.Flags().StringVar(&idNo, "id-no", "", "the patient's ID number")
	cmd.Flags().StringVar(&state, "state", "open", "open, settled, cancelled or all")
	return cmd
}
