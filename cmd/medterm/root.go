package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/config"
)

// defaultConfig is where the packaged daemon's configuration lives: the
// .deb's /etc/medterm, the MSI's %ProgramData%\medterm.
var defaultConfig = defaultConfigPath()

// globals are the flags every command shares.
type globals struct {
	configPath string
	apiAddr    string
	tokenFile  string
	jsonOut    bool
	lang       string // zh (Chinese first, English beside) or en
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "medterm",
		Short: "Treat first, pay later: the point-of-care settlement agent",
		Long: `medterm settles outpatient bills with the medical-insurance platform at
the point of care. "medterm serve" runs the daemon; the other commands are
for window staff and IT and talk to the running daemon.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	pf := root.PersistentFlags()
	pf.StringVarP(&g.configPath, "config", "c", envOr("MEDTERM_CONFIG", defaultConfig), "configuration file ($MEDTERM_CONFIG)")
	pf.StringVar(&g.apiAddr, "api", os.Getenv("MEDTERM_API"), "daemon API address host:port (default: from the configuration)")
	pf.StringVar(&g.tokenFile, "token-file", os.Getenv("MEDTERM_TOKEN_FILE"), "API token file (default: from the configuration)")
	pf.BoolVar(&g.jsonOut, "json", false, "print JSON for scripts (errors too)")
	pf.StringVar(&g.lang, "lang", defaultLang(), "zh: Chinese first with English beside; en: English ($LANG)")
	root.AddCommand(
		newServeCmd(g),
		newSettleCmd(g),
		newRefundCmd(g),
		newCollectCmd(g),
		newJournalCmd(g),
		newReceiptCmd(g),
		newCardCmd(g),
		newStatusCmd(g),
		newSyncCmd(g),
		newArrearsCmd(g),
		newVoidCmd(g),
		newReconcileCmd(g),
		newScanCmd(g),
		newVersionCmd(g),
		newDoctorCmd(g),
		newBillsCmd(g),
		newServiceCmd(g),
		newAgreementCmd(g),
	)
	usageArgs(root)
	return root
}

// usageArgs makes every command's argument errors usage errors (exit 2),
// as its flag errors are.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err.Error()}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// defaultLang is en when the environment's language is English, else zh.
func defaultLang() string {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := os.Getenv(k); v != "" {
			if strings.HasPrefix(v, "en") {
				return "en"
			}
			return "zh"
		}
	}
	return "zh"
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// client returns an API client for the daemon, from the flags or the
// configuration file, read without the daemon's own secrets (the payment
// channel's keys are mode 0600, the daemon's account's alone; window
// staff run these commands).
func (g *globals) client() (*api.Client, error) {
	addr, tokenFile := g.apiAddr, g.tokenFile
	if addr == "" || tokenFile == "" {
		cfg, err := config.LoadForClient(g.configPath)
		if err != nil {
			return nil, err
		}
		if addr == "" {
			addr = cfg.API.Addr
		}
		if tokenFile == "" {
			tokenFile = cfg.API.TokenFile
		}
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("read the API token (%s): %w; are you in the medterm operators' group?", tokenFile, err)
	}
	return api.NewClient(addr, strings.TrimSpace(string(tok))), nil
}
