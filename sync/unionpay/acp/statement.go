package acp

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/seed-a859fada/medterm/agent/money"
)

// The daily statement (txnType 76) answers fileContent: base64 of the
// zlib-deflated bytes of a zip archive, whose general detail file
// ("INN…ZM_…") holds one fixed-width GBK record per transaction, fields
// separated by one byte (research notes §12.5). The widths are ACP's;
// the field names follow a merchant's parser of the same file
// (lyonliyang/demo, UnionField.java).
var zmWidths = [...]int{
	3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2,
	6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
}

// Field positions (from 0) of the ZM record that medterm reads or writes.
const (
	zmTraceNo    = 3  // 系统跟踪号
	zmTxnTime    = 4  // 交易传输时间 MMddHHmmss
	zmAccNo      = 5  // 账号 (masked)
	zmTxnAmt     = 6  // 交易金额, fen
	zmQueryID    = 9  // 查询流水号
	zmOrderID    = 11 // 商户订单号
	zmSettleAmt  = 16 // 结算金额, fen
	zmTxnType    = 19 // 交易类型
	zmTxnSubType = 20 // 交易子类
	zmBizType    = 21 // 业务类型
	zmOrigQryID  = 26 // 原交易查询流水号
	zmMerID      = 27 // 商户代码
)

// zmLen is a record's length in bytes, without the line end.
var zmLen = func() int {
	n := len(zmWidths) - 1 // separators
	for _, w := range zmWidths {
		n += w
	}
	return n
}()

// Record is one transaction of the statement, as medterm reads it.
type Record struct {
	TraceNo    string
	TxnTime    string // MMddHHmmss, Beijing time: the order's txnTime without its year
	AccNo      string // masked
	TxnAmt     money.Fen
	QueryID    string
	OrderID    string
	TxnType    string
	TxnSubType string
	BizType    string
	OrigQryID  string
	MerID      string
}

// MaxStatement bounds the unpacked statement, against a hostile archive.
const MaxStatement = 64 << 20

// StatementFileName is the name of a day's general detail file: day is
// yyMMdd.
func StatementFileName(day, merID string, errors bool) string {
	kind := "ZM_"
	if errors {
		kind = "ZME_"
	}
	return "INN" + day + "88" + kind + merID
}

// EncodeRecords writes records as the ZM file's bytes.
func EncodeRecords(recs []Record) ([]byte, error) {
	var b bytes.Buffer
	for i, r := range recs {
		f := make([]string, len(zmWidths))
		f[zmTraceNo], f[zmTxnTime], f[zmAccNo] = r.TraceNo, r.TxnTime, r.AccNo
		f[zmQueryID], f[zmOrderID], f[zmMerID] = r.QueryID, r.OrderID, r.MerID
		f[zmTxnType], f[zmTxnSubType], f[zmBizType], f[zmOrigQryID] = r.TxnType, r.TxnSubType, r.BizType, r.OrigQryID
		if r.TxnAmt < 0 || !r.TxnAmt.Valid() {
			return nil, fmt.Errorf("statement record %d: %w: amount %d", i+1, ErrFormat, r.TxnAmt)
		}
		amt := strconv.FormatInt(int64(r.TxnAmt), 10)
		f[zmTxnAmt] = strings.Repeat("0", zmWidths[zmTxnAmt]-len(amt)) + amt
		f[zmSettleAmt] = strings.Repeat("0", zmWidths[zmSettleAmt]-len(amt)) + amt
		for j, v := range f {
			enc, err := simplifiedchinese.GB18030.NewEncoder().String(v)
			if err != nil || len(enc) > zmWidths[j] {
				return nil, fmt.Errorf("statement record %d field %d: %w: %q does not fit %d bytes", i+1, j+1, ErrFormat, v, zmWidths[j])
			}
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(enc)
			b.WriteString(strings.Repeat(" ", zmWidths[j]-len(enc)))
		}
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// ParseRecords reads a ZM file. Blank lines are skipped; any other line of
// the wrong length is a format error, never skipped: a statement that
// silently loses a transaction would reconcile wrongly.
func ParseRecords(data []byte) ([]Record, error) {
	var out []Record
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(line) != zmLen {
			return nil, fmt.Errorf("statement line %d: %w: %d bytes, want %d", n+1, ErrFormat, len(line), zmLen)
		}
		f := make([]string, len(zmWidths))
		at := 0
		for j, w := range zmWidths {
			dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(line[at : at+w])
			if err != nil {
				return nil, fmt.Errorf("statement line %d field %d: %w: not GB18030", n+1, j+1, ErrFormat)
			}
			f[j] = strings.TrimSpace(string(dec))
			at += w + 1
		}
		if !Digits(f[zmTxnAmt]) || len(f[zmTxnTime]) != 10 || !Digits(f[zmTxnTime]) || f[zmOrderID] == "" {
			return nil, fmt.Errorf("statement line %d: %w: amount %q, time %q, order %q", n+1, ErrFormat, f[zmTxnAmt], f[zmTxnTime], f[zmOrderID])
		}
		amt, err := strconv.ParseInt(f[zmTxnAmt], 10, 64)
		if err != nil || !money.Fen(amt).Valid() {
			return nil, fmt.Errorf("statement line %d: %w: amount %q", n+1, ErrFormat, f[zmTxnAmt])
		}
		out = append(out, Record{
			TraceNo: f[zmTraceNo], TxnTime: f[zmTxnTime], AccNo: f[zmAccNo], TxnAmt: money.Fen(amt),
			QueryID: f[zmQueryID], OrderID: f[zmOrderID], TxnType: f[zmTxnType], TxnSubType: f[zmTxnSubType],
			BizType: f[zmBizType], OrigQryID: f[zmOrigQryID], MerID: f[zmMerID],
		})
	}
	return out, nil
}

// PackFiles makes fileContent from named files.
func PackFiles(files map[string][]byte, order []string) (string, error) {
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for _, name := range order {
		w, err := zw.Create(name)
		if err != nil {
			return "", fmt.Errorf("pack %s: %w", name, err)
		}
		if _, err := w.Write(files[name]); err != nil {
			return "", fmt.Errorf("pack %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("pack: %w", err)
	}
	var db bytes.Buffer
	fw := zlib.NewWriter(&db)
	if _, err := fw.Write(zb.Bytes()); err != nil {
		return "", fmt.Errorf("deflate: %w", err)
	}
	if err := fw.Close(); err != nil {
		return "", fmt.Errorf("deflate: %w", err)
	}
	return base64.StdEncoding.EncodeToString(db.Bytes()), nil
}

// UnpackFiles reads fileContent back into its files, refusing more than
// MaxStatement bytes in all.
func UnpackFiles(content string) (map[string][]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(content)
	if err != nil {
		return nil, fmt.Errorf("fileContent: %w: not base64", ErrFormat)
	}
	fr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("fileContent: %w: not deflated: %v", ErrFormat, err)
	}
	archive, err := io.ReadAll(io.LimitReader(fr, MaxStatement+1))
	if err != nil {
		return nil, fmt.Errorf("fileContent: %w: %v", ErrFormat, err)
	}
	if len(archive) > MaxStatement {
		return nil, fmt.Errorf("fileContent: %w: over %d bytes", ErrFormat, MaxStatement)
	}
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return nil, fmt.Errorf("fileContent: %w: not a zip archive: %v", ErrFormat, err)
	}
	out := map[string][]byte{}
	left := int64(MaxStatement)
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("fileContent %s: %w: %v", zf.Name, ErrFormat, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, left+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("fileContent %s: %w: %v", zf.Name, ErrFormat, err)
		}
		if left -= int64(len(data)); left < 0 {
			return nil, fmt.Errorf("fileContent: %w: over %d bytes", ErrFormat, MaxStatement)
		}
		out[zf.Name] = data
	}
	return out, nil
}
