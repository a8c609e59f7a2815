package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

func newSecretsCmd() *cobra.Command {
	var secrets, tokenFile, institution string
	cmd := &cobra.Command{
		Use:   "secrets --secrets FILE --token-file FILE [--institution CODE]",
		Short: "Make an institution's tif token: the sandbox's secrets file and the agent's token_file",
		Long: `secrets gives the sandbox and an agent the same tif token. Under tif the
gateway knows each institution by its paasid (the institution code) and
checks every request's signature with the institution's token; the
sandbox reads the tokens from its secrets file (hex-encoded), the agent
from its [insurance] token_file (the token itself, one line).

If the secrets file does not exist, secrets makes a fresh token and writes
both files (mode 0600). If it exists, secrets writes the institution's
token from it into the token file. An existing token file is never
overwritten.`,
		Args: exactArgs(0, "secrets takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if secrets == "" || tokenFile == "" {
				return usageError{"secrets needs --secrets and --token-file"}
			}
			if len(institution) != 12 {
				return usageError{fmt.Sprintf("--institution %q must be the 12-character institution code", institution)}
			}
			token, made, err := institutionToken(secrets, institution)
			if err != nil {
				return err
			}
			f, err := os.OpenFile(tokenFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("--token-file: %w", err)
			}
			if _, err := f.Write([]byte(token + "\n")); err != nil {
				f.Close()
				return fmt.Errorf("--token-file: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("--token-file: %w", err)
			}
			if made {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote a fresh tif token for %s to %s (the sandbox's --secrets) and %s (the agent's [insurance] token_file; paasid = %q)\n",
					institution, secrets, tokenFile, institution)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s's tif token from %s to %s (the agent's [insurance] token_file; paasid = %q)\n",
					institution, secrets, tokenFile, institution)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&secrets, "secrets", "", "the sandbox's secrets file: read if it exists, else written")
	f.StringVar(&tokenFile, "token-file", "", "the agent's [insurance] token_file to write (must not exist)")
	f.StringVar(&institution, "institution", "H44190000001", "the institution code, which is also its paasid")
	return cmd
}

// institutionToken returns the institution's token from the secrets file,
// or makes one and writes a new secrets file holding it (made).
func institutionToken(path, institution string) (token string, made bool, err error) {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		all, err := protocol.LoadSecrets(path)
		if err != nil {
			return "", false, err
		}
		s, ok := all[institution]
		if !ok {
			return "", false, fmt.Errorf("%w: %s holds no secret for %s", protocol.ErrSecrets, path, institution)
		}
		if !tokenText(s) {
			return "", false, fmt.Errorf("%w: %s's secret in %s is not printable text, so no token file can hold it: make a new secrets file", protocol.ErrSecrets, institution, path)
		}
		return string(s), false, nil
	}
	// Printable by construction (hex digits), so that a one-line token
	// file holds it exactly.
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	token = hex.EncodeToString(raw)
	if err := protocol.WriteSecrets(path, map[string][]byte{institution: []byte(token)}); err != nil {
		return "", false, err
	}
	return token, true, nil
}
