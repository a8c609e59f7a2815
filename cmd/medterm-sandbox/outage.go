package main

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

func newOutageCmd() *cobra.Command {
	af := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "outage on|off|status",
		Short: "Take the running sandbox off the network for transactions, or put it back",
		Long: `outage on makes every transaction request to the running sandbox lose its
connection unanswered, as when the line to the platform fails; outage off
ends it. The admin endpoints keep answering. A restarted sandbox is up.`,
		Args: exactArgs(1, "outage takes on, off or status"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			method := http.MethodPost
			switch args[0] {
			case "on":
				body = map[string]bool{"down": true}
			case "off":
				body = map[string]bool{"down": false}
			case "status":
				method = http.MethodGet
			default:
				return usageError{fmt.Sprintf("outage takes on, off or status, not %q", args[0])}
			}
			c, err := af.client()
			if err != nil {
				return err
			}
			var st struct {
				Down bool `json:"down"`
			}
			if _, err := c.call(cmd.Context(), method, "/admin/outage", body, &st); err != nil {
				return err
			}
			state := "up: transactions are answered"
			if st.Down {
				state = "down: transactions lose their connection"
			}
			fmt.Fprintln(cmd.OutOrStdout(), "platform", state)
			return nil
		},
	}
	af.register(cmd.Flags())
	return cmd
}
