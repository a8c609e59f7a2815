package protocol

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/seed-a859fada/medterm/agent/money"
)

// The files of 3202 (JX-SPEC §5.3.2.2, 表165-166): a ZIP holding one
// UTF-8 TXT, one record per line, fields separated by TAB in the table's
// order, an empty value written `null`. Readers are lenient the way real
// files need: NYB-JX writes every field followed by "\r\t", so a CR and a
// trailing empty column are ignored.

// StmtRow is one settlement of the upload file (表165). A refund is listed
// twice: the settlement and its reverse row (RefdSetlFlag "1", negative
// amounts).
type StmtRow struct {
	SetlID, MdtrtID, PsnNo               string
	MedfeeSumamt, FundPaySumamt, AcctPay money.Fen
	RefdSetlFlag                         string // "0" or "1"
}

// StmtResult is one line of the result file (表166). SetlID and MdtrtID
// are empty when the platform holds several matching records.
type StmtResult struct {
	PsnNo, MdtrtID, SetlID, Msgid        string
	StmtRslt, RefdSetlFlag, Memo         string
	MedfeeSumamt, FundPaySumamt, AcctPay money.Fen
}

// Bounds of a reconciliation file, far above a day of one institution.
const (
	maxStmtFile  = 16 << 20
	maxStmtLines = 200_000
)

// WriteStmtRows builds the upload file: a ZIP holding name (a .txt).
func WriteStmtRows(name string, rows []StmtRow) ([]byte, error) {
	lines := make([][]string, len(rows))
	for i, r := range rows {
		lines[i] = []string{r.SetlID, r.MdtrtID, r.PsnNo, r.MedfeeSumamt.String(), r.FundPaySumamt.String(), r.AcctPay.String(), r.RefdSetlFlag}
	}
	return zipLines(name, lines)
}

// ReadStmtRows reads an upload file.
func ReadStmtRows(data []byte) ([]StmtRow, error) {
	lines, err := unzipLines(data, 7)
	if err != nil {
		return nil, err
	}
	out := make([]StmtRow, 0, len(lines))
	for n, f := range lines {
		var r StmtRow
		var err error
		r.SetlID, r.MdtrtID, r.PsnNo, r.RefdSetlFlag = f[0], f[1], f[2], f[6]
		if r.MedfeeSumamt, err = fileAmount(f[3]); err == nil {
			if r.FundPaySumamt, err = fileAmount(f[4]); err == nil {
				r.AcctPay, err = fileAmount(f[5])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrStmtFile, n+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// WriteStmtResults builds the result file.
func WriteStmtResults(name string, rows []StmtResult) ([]byte, error) {
	lines := make([][]string, len(rows))
	for i, r := range rows {
		lines[i] = []string{r.PsnNo, r.MdtrtID, r.SetlID, r.Msgid, r.StmtRslt, r.RefdSetlFlag, r.Memo,
			r.MedfeeSumamt.String(), r.FundPaySumamt.String(), r.AcctPay.String()}
	}
	return zipLines(name, lines)
}

// ReadStmtResults reads a result file.
func ReadStmtResults(data []byte) ([]StmtResult, error) {
	lines, err := unzipLines(data, 10)
	if err != nil {
		return nil, err
	}
	out := make([]StmtResult, 0, len(lines))
	for n, f := range lines {
		r := StmtResult{PsnNo: f[0], MdtrtID: f[1], SetlID: f[2], Msgid: f[3], StmtRslt: f[4], RefdSetlFlag: f[5], Memo: f[6]}
		var err error
		if r.MedfeeSumamt, err = fileAmount(f[7]); err == nil {
			if r.FundPaySumamt, err = fileAmount(f[8]); err == nil {
				r.AcctPay, err = fileAmount(f[9])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrStmtFile, n+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func fileAmount(s string) (money.Fen, error) {
	v, _, err := readScaled([]byte(`"`+s+`"`), 2, int64(money.Max))
	return money.Fen(v), err
}

// zipLines writes lines as TAB-separated UTF-8 text, empty values as
// null, into a ZIP holding one file.
func zipLines(name string, lines [][]string) ([]byte, error) {
	var txt bytes.Buffer
	for _, fields := range lines {
		for i, f := range fields {
			if strings.ContainsAny(f, "\t\r\n") {
				return nil, fmt.Errorf("%w: a value holds a TAB or a line break", ErrStmtFile)
			}
			if f == "" {
				f = "null"
			}
			if i > 0 {
				txt.WriteByte('\t')
			}
			txt.WriteString(f)
		}
		txt.WriteByte('\n')
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStmtFile, err)
	}
	if _, err := w.Write(txt.Bytes()); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStmtFile, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStmtFile, err)
	}
	return buf.Bytes(), nil
}

// unzipLines reads the one text file of a ZIP as lines of exactly n
// fields ("null" read as empty), skipping blank lines.
func unzipLines(data []byte, n int) ([][]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: not a ZIP: %v", ErrStmtFile, err)
	}
	var txt *zip.File
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if txt != nil {
			return nil, fmt.Errorf("%w: the ZIP holds more than one file", ErrStmtFile)
		}
		txt = f
	}
	if txt == nil {
		return nil, fmt.Errorf("%w: the ZIP is empty", ErrStmtFile)
	}
	rc, err := txt.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStmtFile, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxStmtFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStmtFile, err)
	}
	if len(raw) > maxStmtFile {
		return nil, fmt.Errorf("%w: over %d bytes unpacked", ErrStmtFile, maxStmtFile)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")) // a BOM some editors add
	var out [][]string
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.ReplaceAll(line, "\r", "")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		for len(fields) > n && strings.TrimSpace(fields[len(fields)-1]) == "" {
			fields = fields[:len(fields)-1]
		}
		if len(fields) != n {
			return nil, fmt.Errorf("%w: line %d has %d fields, want %d", ErrStmtFile, i+1, len(fields), n)
		}
		for j, f := range fields {
			if f = strings.TrimSpace(f); f == "null" {
				f = ""
			}
			fields[j] = f
		}
		out = append(out, fields)
		if len(out) > maxStmtLines {
			return nil, fmt.Errorf("%w: over %d lines", ErrStmtFile, maxStmtLines)
		}
	}
	return out, nil
}
