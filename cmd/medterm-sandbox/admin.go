package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// adminFlags find the running sandbox whose admin API a command talks to.
type adminFlags struct {
	url, addrFile string
}

func (f *adminFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "sandbox", "", "base URL of the running sandbox, e.g. http://127.0.0.1:8600")
	fs.StringVar(&f.addrFile, "addr-file", "", "the --addr-file of the running sandbox, instead of --sandbox")
}

// client resolves the flags to an admin client.
func (f *adminFlags) client() (*adminClient, error) {
	switch {
	case f.url != "" && f.addrFile != "":
		return nil, usageError{"give --sandbox or --addr-file, not both"}
	case f.url != "":
		base := f.url
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		return newAdminClient(base), nil
	case f.addrFile != "":
		b, err := os.ReadFile(f.addrFile)
		if err != nil {
			return nil, fmt.Errorf("--addr-file: %w (is medterm-sandbox serve running with --addr-file?)", err)
		}
		return newAdminClient("http://" + strings.TrimSpace(string(b))), nil
	}
	return nil, usageError{"say which sandbox: --sandbox URL or --addr-file FILE"}
}

// adminClient talks to a sandbox's /admin/ endpoints.
type adminClient struct {
	base string
	http *http.Client
}

func newAdminClient(base string) *adminClient {
	return &adminClient{base: strings.TrimSuffix(base, "/"), http: &http.Client{Timeout: 30 * time.Second}}
}

// adminError is a refusal by the sandbox: its status and what it said.
type adminError struct {
	status int
	msg    string
}

func (e *adminError) Error() string {
	return fmt.Sprintf("sandbox refused (HTTP %d): %s", e.status, e.msg)
}

// call sends body (JSON, when not nil) and decodes the answer into out,
// or returns the answer's bytes when out is nil.
func (c *adminClient) call(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("sandbox URL: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the sandbox at %s (is medterm-sandbox serve running?): %w", c.base, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read the sandbox's answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, &adminError{status: res.StatusCode, msg: strings.TrimSpace(string(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("the sandbox's answer: %w", err)
		}
	}
	return data, nil
}
