package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// The DLL's behaviour, against an agent that answers as the real one
// does (agent/api's own tests hold the real one to these answers).
func agentAnswering(t *testing.T, status int, body string) settings {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cards/desk" || r.URL.Query().Get("format") != "ireadcardbas" || r.Header.Get("Authorization") != "Bearer tok-0123456789abcdef" {
			http.Error(w, `{"error":{"code":"UNAUTHORIZED"}}`, http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	tok := filepath.Join(t.TempDir(), "api.token")
	if err := os.WriteFile(tok, []byte("tok-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return settings{addr: strings.TrimPrefix(srv.URL, "http://"), tokenFile: tok}
}

const bas = "441900|441900199210101014|D19920001|441900D1560000050A1B2C3D00000009|龚䶮||3.00|20220101|20320101|||"

func TestTheCardInTheReaderIsTheStringHISProgramsParse(t *testing.T) {
	s := agentAnswering(t, 200, bas+"\n")
	out, code := readCardBas(context.Background(), s, 1)
	if code != OK || out != bas {
		t.Fatalf("iReadCardBas = %d %q", code, out)
	}
	// In the caller's code page: GB18030 (䶮 is outside GBK).
	back, err := simplifiedchinese.GB18030.NewDecoder().Bytes(encodeOut(out))
	if err != nil || string(back) != bas {
		t.Fatalf("encoded: %q %v", back, err)
	}
}

func TestEachFailureHasItsCode(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		iType  int
		want   int
	}{
		{"no card", 400, `{"error":{"code":"NO_CARD","message_zh":"请插入社保卡"}}`, 1, ErrNoCard},
		{"expired card", 400, `{"error":{"code":"CARD_EXPIRED","message_zh":"社保卡已过期"}}`, 3, ErrCard},
		{"unreadable card", 400, `{"error":{"code":"CARD_UNREADABLE","message_zh":"社保卡读取失败"}}`, 1, ErrCard},
		{"an agent failure", 500, `{"error":{"code":"INTERNAL","message_zh":"系统内部错误"}}`, 1, ErrInternal},
		{"a bad card type", 200, bas, 7, ErrType},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code := readCardBas(context.Background(), agentAnswering(t, c.status, c.body), c.iType)
			if code != c.want || out == "" {
				t.Fatalf("iReadCardBas = %d %q; want %d with a message", code, out, c.want)
			}
		})
	}
	s := agentAnswering(t, 200, bas)
	s.tokenFile = filepath.Join(t.TempDir(), "missing")
	if _, code := readCardBas(context.Background(), s, 1); code != ErrToken {
		t.Errorf("no token file: %d", code)
	}
	s = agentAnswering(t, 200, bas)
	if err := os.WriteFile(s.tokenFile, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, code := readCardBas(context.Background(), s, 1); code != ErrToken {
		t.Errorf("a wrong token: %d", code)
	}
	s.addr = "127.0.0.1:1"
	if _, code := readCardBas(context.Background(), s, 1); code != ErrAgent {
		t.Errorf("no agent: %d", code)
	}
}

func TestTheOutputIsCutToTheBufferAtACharacterBoundary(t *testing.T) {
	out := encodeOut(strings.Repeat("龚", 2000))
	if len(out) > MaxOut-1 || len(out)%2 != 0 {
		t.Fatalf("%d bytes", len(out))
	}
}
