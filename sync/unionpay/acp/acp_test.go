package acp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
)

func TestCanonicalSortsSkipsSignatureAndBlanksAndDoesNotEscape(t *testing.T) {
	f := Fields{
		FTxnType: "01", FOrderID: "MT0001", FSignature: "xyz", FReqReserved: "",
		FTokenPayData: "{trId=62000000001&token=6235240000000000001}", FMerID: "898440148160001",
	}
	want := "merId=898440148160001&orderId=MT0001&tokenPayData={trId=62000000001&token=6235240000000000001}&txnType=01"
	if got := f.Canonical(); got != want {
		t.Fatalf("canonical\n got %s\nwant %s", got, want)
	}
}

func TestDecodeRefusesAmbiguousOrRepeatedFields(t *testing.T) {
	for name, body := range map[string]string{
		"field twice":          "respCode=00&respCode=05",
		"ampersand in a value": "respMsg=" + "a%26origRespCode%3D00",
		"bag with braces in":   "reserved=%7Ba%3D%7Bb%7D%7D",
		"equals in a name":     "a%3Db=1",
	} {
		if _, err := Decode(body); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err %v, want ErrFormat", name, err)
		}
	}
	f, err := Decode("tokenPayData=%7BtrId%3D1%26token%3D2%7D&signature=ab%2Bc%3D%3D&respCode=00")
	if err != nil {
		t.Fatal(err)
	}
	if f[FTokenPayData] != "{trId=1&token=2}" || f[FSignature] != "ab+c==" {
		t.Fatalf("decoded %v", f)
	}
}

func TestBagRoundTripAndRefusals(t *testing.T) {
	s, err := Bag(BagTrID, "62000000001", BagToken, "6235", BagConfirmed, "")
	if err != nil || s != "{trId=62000000001&token=6235}" {
		t.Fatalf("bag %q, %v", s, err)
	}
	m, err := ParseBag(s)
	if err != nil || m[BagTrID] != "62000000001" || m[BagToken] != "6235" || len(m) != 2 {
		t.Fatalf("parsed %v, %v", m, err)
	}
	if _, err := Bag("k", "a&b"); !errors.Is(err, ErrFormat) {
		t.Errorf("a value with & was written: %v", err)
	}
	for _, bad := range []string{"trId=1", "{trId}", "{a=1&a=2}"} {
		if _, err := ParseBag(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseBag(%q): %v, want ErrFormat", bad, err)
		}
	}
}

func TestSignVerifyAndTamper(t *testing.T) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sm2.GenerateKey(rand.Reader)
	f := Fields{FTxnType: "01", FTxnAmt: "1800", FOrderID: "MT20260310001"}
	if err := Sign(key, f); err != nil {
		t.Fatal(err)
	}
	if f[FSignMethod] != SignMethodSM2 {
		t.Fatalf("signMethod %q", f[FSignMethod])
	}
	// Through the wire and back.
	g, err := Decode(f.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(keys(&other.PublicKey, &key.PublicKey), g); err != nil {
		t.Fatalf("verify with the right key among others: %v", err)
	}
	g[FTxnAmt] = "18000"
	if err := Verify(keys(&key.PublicKey), g); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered amount: %v", err)
	}
	delete(g, FSignature)
	if err := Verify(keys(&key.PublicKey), g); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
}

func TestKeysPEMRoundTripAndEncryption(t *testing.T) {
	key, _ := sm2.GenerateKey(rand.Reader)
	pemKey, err := MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(pemKey)
	if err != nil || !back.Equal(key) {
		t.Fatalf("private key round trip: %v", err)
	}
	pub1, _ := MarshalPublicKey(&key.PublicKey)
	other, _ := sm2.GenerateKey(rand.Reader)
	pub2, _ := MarshalPublicKey(&other.PublicKey)
	pubs, err := ParsePublicKeys(append(pub1, pub2...))
	if err != nil || len(pubs) != 2 {
		t.Fatalf("public keys: %d, %v", len(pubs), err)
	}
	if _, err := ParsePrivateKey(pub1); !errors.Is(err, ErrKey) {
		t.Fatalf("a public key read as private: %v", err)
	}
	ct, err := Encrypt(pubs[0], "440101199001011234")
	if err != nil || strings.Contains(ct, "440101199001011234") {
		t.Fatalf("encrypt: %q %v", ct, err)
	}
	pt, err := Decrypt(key, ct)
	if err != nil || pt != "440101199001011234" {
		t.Fatalf("decrypt %q, %v", pt, err)
	}
	if _, err := Decrypt(other, ct); !errors.Is(err, ErrFormat) {
		t.Fatalf("decrypt with the wrong key: %v", err)
	}
}

func TestStatementRecordLayout(t *testing.T) {
	if zmLen != 607 {
		t.Fatalf("record length %d, want 607: 566 bytes of 42 fields and 41 separators", zmLen)
	}
	recs := []Record{{TraceNo: "000001", TxnTime: "0310100000", AccNo: "6222****1234", TxnAmt: 1800,
		QueryID: "512603101000000000001", OrderID: "MT20260310001", TxnType: TxnConsume, TxnSubType: SubConsume,
		BizType: BizToken, MerID: "898440148160001"}}
	data, err := EncodeRecords(recs)
	if err != nil {
		t.Fatal(err)
	}
	line := string(bytes.TrimSuffix(data, []byte("\r\n")))
	if len(line) != zmLen {
		t.Fatalf("line of %d bytes", len(line))
	}
	// The amount is field 7: after 3+11+11+6+10+19 bytes and 6 separators.
	if got := line[66 : 66+12]; got != "000000001800" {
		t.Fatalf("amount field %q", got)
	}
	back, err := ParseRecords(data)
	if err != nil || len(back) != 1 || back[0] != recs[0] {
		t.Fatalf("parsed %+v, %v", back, err)
	}
	if _, err := ParseRecords([]byte(line[:600] + "\r\n")); !errors.Is(err, ErrFormat) {
		t.Fatalf("a short line: %v", err)
	}
}

func TestPackUnpack(t *testing.T) {
	files := map[string][]byte{"INN26031088ZM_898440148160001": []byte("x"), "INN26031088ZME_898440148160001": nil}
	s, err := PackFiles(files, []string{"INN26031088ZM_898440148160001", "INN26031088ZME_898440148160001"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnpackFiles(s)
	if err != nil || string(back["INN26031088ZM_898440148160001"]) != "x" || len(back) != 2 {
		t.Fatalf("unpacked %v, %v", back, err)
	}
	if _, err := UnpackFiles("bm90IGRlZmxhdGVk"); !errors.Is(err, ErrFormat) {
		t.Fatalf("not deflated: %v", err)
	}
}

func TestTimeIsBeijing(t *testing.T) {
	utc := time.Date(2026, 3, 9, 18, 30, 0, 0, time.UTC) // 02:30 on the 10th in Beijing
	if got := FormatTime(utc); got != "20260310023000" {
		t.Fatalf("txnTime %s", got)
	}
	if SettleDate(utc) != "0310" || Day(utc) != "2026-03-10" {
		t.Fatalf("clearing day %s %s", SettleDate(utc), Day(utc))
	}
	back, err := ParseTime("20260310023000")
	if err != nil || !back.Equal(utc) {
		t.Fatalf("parsed %v, %v", back, err)
	}
	if _, err := ParseTime("2026031002300"); !errors.Is(err, ErrFormat) {
		t.Fatalf("short time: %v", err)
	}
	if !ValidOrderID("MT20260310") || ValidOrderID("MT-2026031") || ValidOrderID("short") {
		t.Fatal("orderId rule")
	}
}

func keys(k ...*ecdsa.PublicKey) []*ecdsa.PublicKey { return k }
