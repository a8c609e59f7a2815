package protocol_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"testing"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, text := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(text))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTheUploadFileIsAZippedTabSeparatedTextWithNulls(t *testing.T) {
	// shape: JX-SPEC §5.3.2.2 表165 and its rules (TAB-separated, UTF-8,
	// empty values null, a refund listed forward and reverse)
	rows := []protocol.StmtRow{
		{SetlID: "8000054321", MdtrtID: "9000012345", PsnNo: "44030000000000000001", MedfeeSumamt: 10000, FundPaySumamt: 6200, AcctPay: 2000, RefdSetlFlag: "0"},
		{SetlID: "8000054399", MdtrtID: "", PsnNo: "44030000000000000001", MedfeeSumamt: -10000, FundPaySumamt: -6200, AcctPay: -2000, RefdSetlFlag: "1"},
	}
	data, err := protocol.WriteStmtRows("stmt.txt", rows)
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	f, _ := zr.File[0].Open()
	var txt bytes.Buffer
	_, _ = txt.ReadFrom(f)
	want := "8000054321\t9000012345\t44030000000000000001\t100.00\t62.00\t20.00\t0\n" +
		"8000054399\tnull\t44030000000000000001\t-100.00\t-62.00\t-20.00\t1\n"
	if txt.String() != want {
		t.Fatalf("upload file:\n%q\nwant\n%q", txt.String(), want)
	}
	back, err := protocol.ReadStmtRows(data)
	if err != nil || len(back) != 2 || back[1] != rows[1] || back[0] != rows[0] {
		t.Fatalf("read back %+v %v", back, err)
	}
}

func TestAFileWrittenTheWayAPublicClientWritesItIsRead(t *testing.T) {
	// shape: NYB-JX Frm_ybdzXN.cs L210 writes every value followed by
	// "\r\t": a CR and a trailing TAB on every field, the last one too
	text := "8000054321\r\t9000012345\r\t44030000000000000001\r\t100.00\r\t62.00\r\t20.00\r\t0\r\t\n"
	rows, err := protocol.ReadStmtRows(zipOf(t, map[string]string{"stmt.txt": text}))
	if err != nil || len(rows) != 1 || rows[0].AcctPay != 2000 || rows[0].RefdSetlFlag != "0" {
		t.Fatalf("%+v %v", rows, err)
	}
}

func TestTheResultFileIsRead(t *testing.T) {
	// shape: JX-SPEC 表166; the research notes' rebuilt result line, and
	// setl_id and mdtrt_id empty (null) where the centre holds several
	text := "44030000000000000001\t9000012345\t8000054321\tH44030000001202501150830000001\t0\t0\tnull\t100.00\t62.00\t20.00\n" +
		"44030000000000000001\tnull\tnull\tnull\t1\t0\t中心多\t50.00\t0.00\t50.00\n"
	res, err := protocol.ReadStmtResults(zipOf(t, map[string]string{"result.txt": text}))
	if err != nil || len(res) != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if res[0].Msgid != "H44030000001202501150830000001" || res[0].Memo != "" || res[0].MedfeeSumamt != 10000 {
		t.Fatalf("line 1 %+v", res[0])
	}
	if res[1].SetlID != "" || res[1].StmtRslt != protocol.StmtPlatformMore || res[1].Memo != "中心多" {
		t.Fatalf("line 2 %+v", res[1])
	}
}

func TestMalformedFilesAreRefused(t *testing.T) {
	for name, data := range map[string][]byte{
		"not a zip":        []byte("8000054321\t9000012345"),
		"two files":        zipOf(t, map[string]string{"a.txt": "", "b.txt": ""}),
		"a missing column": zipOf(t, map[string]string{"a.txt": "1\t2\t3\t1.00\t1.00\t0\n"}),
		"an inexact sum":   zipOf(t, map[string]string{"a.txt": "1\t2\t3\t1.001\t1.00\t0.00\t0\n"}),
	} {
		if _, err := protocol.ReadStmtRows(data); !errors.Is(err, protocol.ErrStmtFile) && !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
