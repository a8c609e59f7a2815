// Command sscarddriver is a drop-in SSCardDriver.dll for desktop HIS
// programs that read the social-security card through the standard
// reading interface's iReadCardBas: built as a Windows DLL (cgo
// c-shared), it asks the medterm agent on the same PC for the card in the
// desk's reader and fills the caller's buffer with the same '|'-separated
// string, so that a HIS switches by replacing the DLL.
//
//	long __stdcall iReadCardBas(int iType, char *pOutInfo);
//
// iType is the card operation (1 contact, 2 contactless, 3 and 4 search
// both); the agent reads the contact card at the desk, which is what all
// four mean on a consultation-room PC. pOutInfo receives at most
// MaxOut-1 bytes and a NUL, in GBK (GB18030 for a name outside GBK), the
// code page of Chinese Windows programs. The return value is 0, or one of
// the codes below with a message in pOutInfo.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Return codes of iReadCardBas.
const (
	OK          = 0
	ErrType     = -1 // iType is not 1 to 4
	ErrAgent    = -2 // the medterm agent does not answer on this PC
	ErrToken    = -3 // the agent's token file cannot be read, or is refused
	ErrNoCard   = -4 // no card in the reader (or no reader)
	ErrCard     = -5 // the card could not be read, or is not usable
	ErrInternal = -6 // anything else (the message says what)
)

// MaxOut is the buffer the standard interface's callers allocate.
const MaxOut = 1024

// settings are where the agent is: the environment, else its defaults on
// Windows.
type settings struct {
	addr      string // host:port
	tokenFile string
}

func fromEnvironment() settings {
	s := settings{addr: os.Getenv("MEDTERM_API"), tokenFile: os.Getenv("MEDTERM_TOKEN_FILE")}
	if s.addr == "" {
		s.addr = "127.0.0.1:8961"
	}
	if s.tokenFile == "" {
		base := os.Getenv("ProgramData")
		if base == "" {
			base = `C:\ProgramData`
		}
		s.tokenFile = filepath.Join(base, "medterm", "api.token")
	}
	return s
}

// readCardBas is iReadCardBas: the output string (UTF-8) and the code.
func readCardBas(ctx context.Context, s settings, iType int) (string, int) {
	if iType < 1 || iType > 4 {
		return "卡操作类型错误 iType must be 1 to 4", ErrType
	}
	tok, err := os.ReadFile(s.tokenFile)
	if err != nil {
		return "无法读取 medterm 令牌文件 " + s.tokenFile, ErrToken
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/v1/cards/desk?format=ireadcardbas", nil)
	if err != nil {
		return err.Error(), ErrInternal
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "medterm 服务未运行 the medterm agent does not answer", ErrAgent
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusOK:
		return strings.TrimRight(string(body), "\r\n"), OK
	case resp.StatusCode == http.StatusUnauthorized:
		return "medterm 令牌无效 the token is not the agent's", ErrToken
	}
	code, msg := errorOf(body)
	switch code {
	case "NO_CARD", "NO_CARD_READER", "UNKNOWN_READER":
		return msg, ErrNoCard
	case "CARD_UNREADABLE", "CARD_EXPIRED":
		return msg, ErrCard
	}
	return fmt.Sprintf("%s (%d)", msg, resp.StatusCode), ErrInternal
}

// errorOf reads the agent's error code and Chinese message.
func errorOf(body []byte) (code, msg string) {
	var eb struct {
		Error struct {
			Code      string `json:"code"`
			MessageZH string `json:"message_zh"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &eb); err != nil {
		return "", strings.TrimSpace(string(body))
	}
	return eb.Error.Code, eb.Error.Code + " " + eb.Error.MessageZH
}

// encodeOut is s as the caller's buffer gets it: GB18030 (GBK for every
// character GBK has), cut to MaxOut-1 bytes at a character's end.
func encodeOut(s string) []byte {
	out, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		out = []byte(s)
	}
	if len(out) <= MaxOut-1 {
		return out
	}
	// Cut on a character boundary: re-encode rune by rune.
	var b []byte
	enc := simplifiedchinese.GB18030.NewEncoder()
	for _, r := range s {
		c, err := enc.Bytes([]byte(string(r)))
		if err != nil || len(b)+len(c) > MaxOut-1 {
			break
		}
		b = append(b, c...)
	}
	return b
}

func main() {}
