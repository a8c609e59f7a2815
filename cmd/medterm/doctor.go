package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/api"
	"github.com/seed-a859fada/medterm/agent/config"
	"github.com/seed-a859fada/medterm/devices/pcsc"
)

// medterm doctor checks everything the daemon depends on, each finding in
// Chinese and English with what to do about it. It changes nothing: it
// creates no key, no token, no journal, and it signs in nowhere; the
// package's post-install runs it.

// finding is one check's result.
type finding struct {
	Check string `json:"check"`
	Level string `json:"level"` // ok, warn, fail
	ZH    string `json:"zh"`
	EN    string `json:"en"`
	Fix   string `json:"fix,omitempty"` // what to do, Chinese then English
}

const (
	levelOK   = "ok"
	levelWarn = "warn"
	levelFail = "fail"
)

// Doctor's bounds: what a check may take, how much room the journal
// needs, and how far the clock may be off.
const (
	doctorTimeout = 5 * time.Second
	diskFail      = 64 << 20
	diskWarn      = 512 << 20
	skewWarn      = 60 * time.Second
	skewFail      = 300 * time.Second // the gateway refuses a signature further off
)

// errDoctor is a doctor that found a failure.
type errDoctor struct{ failed []string }

func (e errDoctor) Error() string {
	return "检查未通过 checks failed: " + strings.Join(e.failed, ", ")
}

func newDoctorCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "检查运行环境 Check the configuration, card readers, scanner, both counterparties, clock, journal, key and disk",
		Long: `Check everything the daemon depends on: the configuration, pcscd and the
card readers, the scanner's port, the daemon and its token, the insurance
platform and the payment channel (reachable, and authenticated as the
daemon last found them), the clock against the platform's, the journal,
its key file and the disk. Each finding says what to do. Nothing is
changed: no key, token or journal is created. Exit 0 when nothing failed,
10 when a check failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 4*doctorTimeout)
			defer cancel()
			found := doctor(ctx, g)
			if g.jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"ok": !anyFailed(found), "checks": found}); err != nil {
					return err
				}
			} else {
				printFindings(cmd.OutOrStdout(), found, g.lang)
			}
			var failed []string
			for _, f := range found {
				if f.Level == levelFail {
					failed = append(failed, f.Check)
				}
			}
			if len(failed) > 0 {
				return errDoctor{failed}
			}
			return nil
		},
	}
}

func anyFailed(found []finding) bool {
	for _, f := range found {
		if f.Level == levelFail {
			return true
		}
	}
	return false
}

func printFindings(w io.Writer, found []finding, lang string) {
	mark := map[string]string{levelOK: "正常 OK", levelWarn: "注意 WARN", levelFail: "失败 FAIL"}
	if lang == "en" {
		mark = map[string]string{levelOK: "OK", levelWarn: "WARN", levelFail: "FAIL"}
	}
	indent := strings.Repeat(" ", 21)
	for _, f := range found {
		first := f.ZH
		if lang == "en" {
			first = f.EN
		}
		fmt.Fprintf(w, "%s %s %s\n", padRight(mark[f.Level], 10), padRight(f.Check, 10), first)
		if lang != "en" {
			fmt.Fprintf(w, "%s %s\n", indent, f.EN)
		}
		if f.Fix != "" {
			fmt.Fprintf(w, "%s 处理 Fix: %s\n", indent, f.Fix)
		}
	}
}

// padRight pads s with spaces to w display columns (a Chinese character
// takes two).
func padRight(s string, w int) string {
	return s + strings.Repeat(" ", max(0, w-agent.DisplayWidth(s)))
}

// doctor runs every check in order; a configuration that cannot be read
// stops it there, since every other check reads it.
func doctor(ctx context.Context, g *globals) []finding {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		fix := "改正配置文件中所指的项（模板见 packaging/medterm.toml） / correct the named key (the template is packaging/medterm.toml)"
		if errors.Is(err, fs.ErrPermission) {
			fix = "以 root 或 medterm 用户运行 / run as root or the medterm user"
		}
		return []finding{{Check: "config", Level: levelFail, ZH: "配置文件有误", EN: err.Error(), Fix: fix}}
	}
	found := []finding{{Check: "config", Level: levelOK, ZH: "配置文件正确：" + g.configPath, EN: "configuration valid: " + g.configPath}}
	found = append(found, checkDisk(cfg), checkJournal(cfg), checkKey(cfg))
	if cfg.Cards.Enabled {
		found = append(found, checkReaders(ctx, cfg))
	}
	if cfg.Scanner.Enabled {
		found = append(found, checkScanner(cfg))
	}
	found = append(found, checkDaemon(ctx, g, cfg)...)
	found = append(found, checkPeer(ctx, "insurance", "医保平台", cfg.Insurance.URL, true)...)
	if cfg.Payment.Enabled {
		found = append(found, checkPeer(ctx, "payment", "支付通道", cfg.Payment.URL, false)...)
	}
	return found
}

func checkDisk(cfg config.Config) finding {
	dir := filepath.Dir(cfg.Journal.Path)
	free, err := freeBytes(existingParent(dir))
	if err != nil {
		return finding{Check: "disk", Level: levelFail, ZH: "无法读取磁盘空间", EN: "cannot read the free space: " + err.Error(),
			Fix: "检查 [journal] path 所在磁盘 / check the disk of [journal] path"}
	}
	f := finding{Check: "disk", Level: levelOK, ZH: fmt.Sprintf("磁盘剩余 %d MB", free>>20), EN: fmt.Sprintf("%d MB free for the journal", free>>20)}
	switch {
	case free < diskFail:
		f.Level, f.Fix = levelFail, "磁盘将满，账单将无法记账：清理磁盘 / the disk is (nearly) full and bills will be refused: free some space"
	case free < diskWarn:
		f.Level, f.Fix = levelWarn, "磁盘空间不多：尽快清理 / little room left: free some space soon"
	}
	return f
}

// existingParent is dir, or its nearest ancestor that exists.
func existingParent(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

func checkJournal(cfg config.Config) finding {
	path := cfg.Journal.Path
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !accessible(existingParent(filepath.Dir(path)), true) {
			return finding{Check: "journal", Level: levelFail, ZH: "账本目录不可写：" + filepath.Dir(path), EN: "the journal's directory is not writable: " + filepath.Dir(path),
				Fix: "以服务用户运行，或修正目录权限 / run as the service user, or fix the directory's owner"}
		}
		return finding{Check: "journal", Level: levelOK, ZH: "尚无账本，首次启动时创建", EN: "no journal yet: the daemon creates it at its first start"}
	case err != nil:
		return finding{Check: "journal", Level: levelFail, ZH: "无法读取账本", EN: err.Error(), Fix: "检查文件权限 / check the file's permissions"}
	case !accessible(path, true):
		return finding{Check: "journal", Level: levelFail, ZH: "账本不可写：" + path, EN: "the journal is not writable: " + path,
			Fix: "以服务用户运行，或修正文件权限 / run as the service user, or fix the file's owner"}
	}
	return finding{Check: "journal", Level: levelOK, ZH: fmt.Sprintf("账本 %s（%d KB）", path, st.Size()>>10), EN: fmt.Sprintf("journal %s (%d KB)", path, st.Size()>>10)}
}

func checkKey(cfg config.Config) finding {
	st, err := os.Stat(cfg.Journal.KeyFile)
	_, jerr := os.Stat(cfg.Journal.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && jerr == nil:
		return finding{Check: "key", Level: levelFail, ZH: "账本存在但密钥文件丢失：个人信息无法读取", EN: "the journal exists but its key file is missing: its personal fields cannot be read",
			Fix: "从备份恢复密钥文件到 " + cfg.Journal.KeyFile + " / restore the key file from its backup"}
	case errors.Is(err, fs.ErrNotExist):
		return finding{Check: "key", Level: levelOK, ZH: "尚无密钥，首次启动时创建（请随后备份）", EN: "no key yet: created at the first start (back it up then)"}
	case err != nil:
		return finding{Check: "key", Level: levelFail, ZH: "无法读取密钥文件", EN: err.Error(), Fix: "以服务用户运行 / run as the service user"}
	case st.Mode().Perm()&0o077 != 0:
		return finding{Check: "key", Level: levelFail, ZH: "密钥文件权限过宽：" + st.Mode().Perm().String(), EN: "the key file is readable by others: " + st.Mode().Perm().String(),
			Fix: "chmod 600 " + cfg.Journal.KeyFile}
	}
	return finding{Check: "key", Level: levelOK, ZH: "密钥文件权限正确", EN: "key file present, mode " + st.Mode().Perm().String()}
}

func checkReaders(ctx context.Context, cfg config.Config) finding {
	r := pcsc.New()
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	names, err := r.Readers(rctx)
	switch {
	case errors.Is(err, pcsc.ErrServiceStopped):
		return finding{Check: "pcscd", Level: levelFail, ZH: "读卡服务 pcscd 未运行", EN: "the PC/SC service (pcscd) is not running",
			Fix: "systemctl start pcscd（Windows：启动“智能卡”服务） / start pcscd (Windows: the Smart Card service)"}
	case err != nil:
		return finding{Check: "pcscd", Level: levelFail, ZH: "读卡服务出错", EN: err.Error(), Fix: "重启 pcscd / restart pcscd"}
	}
	var patients []string
	psam := cfg.Cards.PSAMReader == ""
	for _, n := range names {
		switch {
		case n == cfg.Cards.PSAMReader:
			psam = true
		case !contains(cfg.Cards.SkipReaders, n):
			patients = append(patients, n)
		}
	}
	switch {
	case len(patients) == 0:
		return finding{Check: "readers", Level: levelFail, ZH: "没有读卡器", EN: "no card reader for patients' cards",
			Fix: "接好读卡器的 USB 线 / plug the card reader in"}
	case !psam:
		return finding{Check: "readers", Level: levelFail, ZH: "未找到 PSAM 读卡器：" + cfg.Cards.PSAMReader, EN: "the PSAM's reader is missing: " + cfg.Cards.PSAMReader,
			Fix: "接好 PSAM 读卡器，或改正 [cards] psam_reader / plug the PSAM reader in, or correct [cards] psam_reader"}
	}
	return finding{Check: "readers", Level: levelOK, ZH: "读卡器：" + strings.Join(patients, "、"), EN: "card readers: " + strings.Join(patients, ", ")}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func checkScanner(cfg config.Config) finding {
	port := cfg.Scanner.Port
	st, err := os.Stat(port)
	switch {
	case err != nil:
		return finding{Check: "scanner", Level: levelFail, ZH: "找不到扫码器端口：" + port, EN: "the scanner's port is missing: " + port,
			Fix: "接好扫码器，或改正 [scanner] port / plug the scanner in, or correct [scanner] port"}
	case st.Mode()&fs.ModeCharDevice == 0:
		return finding{Check: "scanner", Level: levelFail, ZH: "扫码器端口不是串口设备：" + port, EN: "the scanner's port is not a serial device: " + port,
			Fix: "改正 [scanner] port / correct [scanner] port"}
	case !accessible(port, true):
		return finding{Check: "scanner", Level: levelFail, ZH: "无权打开扫码器端口：" + port, EN: "no permission on the scanner's port: " + port,
			Fix: "把服务用户加入 dialout 组 / add the service user to the dialout group"}
	}
	return finding{Check: "scanner", Level: levelOK, ZH: "扫码器端口：" + port, EN: "scanner port " + port}
}

// checkDaemon asks the daemon, with the token the CLI reads, how it finds
// both counterparties: reachable, and its last exchange with each.
func checkDaemon(ctx context.Context, g *globals, cfg config.Config) []finding {
	addr, tokenFile := cfg.API.Addr, cfg.API.TokenFile
	if g.apiAddr != "" {
		addr = g.apiAddr
	}
	if g.tokenFile != "" {
		tokenFile = g.tokenFile
	}
	hc := &http.Client{Timeout: doctorTimeout}
	resp, err := hc.Get("http://" + addr + "/v1/livez")
	if err != nil {
		return []finding{{Check: "daemon", Level: levelWarn, ZH: "服务未运行：" + addr, EN: "the daemon is not running at " + addr,
			Fix: "systemctl start medterm"}}
	}
	resp.Body.Close()
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return []finding{{Check: "token", Level: levelFail, ZH: "无法读取接口令牌文件：" + tokenFile, EN: "cannot read the API token file: " + err.Error(),
			Fix: "以 medterm 组成员运行 / run as a member of the medterm group"}}
	}
	var st api.Status
	if err := api.NewClient(addr, string(tok)).Status(ctx, &st); err != nil {
		var ae *api.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return []finding{{Check: "token", Level: levelFail, ZH: "接口令牌与服务不符：" + tokenFile, EN: "the token in " + tokenFile + " is not the daemon's",
				Fix: "使用服务的令牌文件（[api] token_file），或重启服务 / use the daemon's token file ([api] token_file), or restart the daemon"}}
		}
		return []finding{{Check: "daemon", Level: levelFail, ZH: "服务无应答", EN: err.Error(), Fix: "systemctl restart medterm"}}
	}
	out := []finding{{Check: "daemon", Level: levelOK, ZH: "服务运行中，版本 " + st.Version, EN: "daemon running, version " + st.Version}}
	switch {
	case st.Platform.Reachable:
		out = append(out, finding{Check: "auth", Level: levelOK, ZH: "医保平台已认证（服务最近一次交易成功）", EN: "insurance platform reachable and authenticated by the daemon's last exchange"})
	case st.Platform.LastOK.IsZero() && st.Platform.LastError == "":
		out = append(out, finding{Check: "auth", Level: levelWarn, ZH: "服务刚启动，尚未与医保平台交易", EN: "the daemon has not exchanged with the insurance platform yet",
			Fix: "稍后再运行 medterm doctor / run medterm doctor again in a minute"})
	default:
		out = append(out, finding{Check: "auth", Level: levelFail, ZH: "服务连不上医保平台", EN: "the daemon cannot reach the insurance platform: " + st.Platform.LastError,
			Fix: "检查网络和 [insurance] 的地址、paasid 与令牌 / check the network and [insurance] url, paasid and token"})
	}
	return out
}

// checkPeer reaches a counterparty's URL (any HTTP answer proves the
// network path; nothing is signed or sent), and reads its clock from the
// Date header.
func checkPeer(ctx context.Context, check, zh, url string, clock bool) []finding {
	rctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodHead, url, nil)
	if err != nil {
		return []finding{{Check: check, Level: levelFail, ZH: zh + "地址有误", EN: err.Error(), Fix: "改正配置中的 url / correct its url"}}
	}
	sent := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return []finding{{Check: check, Level: levelFail, ZH: zh + "无法连接：" + url, EN: "cannot reach " + url + ": " + err.Error(),
			Fix: "检查网络、防火墙和配置中的 url / check the network, the firewall and its url"}}
	}
	resp.Body.Close()
	out := []finding{{Check: check, Level: levelOK, ZH: zh + "可连接：" + url, EN: "reachable: " + url}}
	if !clock {
		return out
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return append(out, finding{Check: "clock", Level: levelWarn, ZH: "平台未告知时间，无法比对时钟", EN: "the platform sent no Date: the clock was not compared"})
	}
	skew := date.Sub(sent.Add(time.Since(sent) / 2)).Round(time.Second)
	f := finding{Check: "clock", Level: levelOK, ZH: fmt.Sprintf("本机时钟与平台相差 %s", skew), EN: fmt.Sprintf("clock %s off the platform's", skew)}
	switch abs := max(skew, -skew); {
	case abs > skewFail:
		f.Level = levelFail
		f.Fix = "校准本机时间（timedatectl set-ntp true）：相差超过 5 分钟平台拒绝签名 / set the clock (timedatectl set-ntp true): beyond 5 minutes the gateway refuses signatures"
	case abs > skewWarn:
		f.Level, f.Fix = levelWarn, "校准本机时间 / set the clock (timedatectl set-ntp true)"
	}
	return append(out, f)
}
