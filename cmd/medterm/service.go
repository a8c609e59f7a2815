package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

const (
	serviceName        = "medterm"
	serviceDisplayName = "medterm insurance settlement agent" // as the MSI names it
	serviceDescription = "Treat first, pay later: insurance cards, codes and settlement"
)

// newServiceCmd manages the Windows service. The MSI installs and starts
// it; these are for IT on a machine set up by hand.
func newServiceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install, start, stop or remove the Windows service (as an administrator)",
		Long: `On Windows the daemon runs as the service "medterm" under the LocalService
account, its configuration and journal in %ProgramData%\medterm, its
warnings and errors in the Application event log (source medterm) and every
record in the rotating file of [log] file. The MSI installs and starts it;
"medterm service install" does the same on a machine set up by hand. On
Linux, systemd's medterm.service (the .deb) runs the daemon instead.`,
		Args: cobra.NoArgs,
	}
	done := func(cmd *cobra.Command, zh, en string) {
		fmt.Fprintf(cmd.OutOrStdout(), "%s / %s\n", zh, en)
	}
	cmd.AddCommand(
		&cobra.Command{Use: "install", Short: "Register the service (automatic start, restart on failure) and its event source", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := installService(g.configPath); err != nil {
					return err
				}
				done(cmd, "服务已安装："+serviceName, "service installed: "+serviceName+" (serve --config "+g.configPath+")")
				return nil
			}},
		&cobra.Command{Use: "uninstall", Short: "Stop and remove the service (the journal and configuration stay)", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := uninstallService(); err != nil {
					return err
				}
				done(cmd, "服务已移除，账本与配置保留", "service removed; the journal and configuration stay")
				return nil
			}},
		&cobra.Command{Use: "start", Short: "Start the service", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := controlService(true); err != nil {
					return err
				}
				done(cmd, "服务已启动", "service started")
				return nil
			}},
		&cobra.Command{Use: "stop", Short: "Stop the service (requests in flight finish first)", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := controlService(false); err != nil {
					return err
				}
				done(cmd, "服务正在停止", "service stopping")
				return nil
			}},
	)
	return cmd
}
