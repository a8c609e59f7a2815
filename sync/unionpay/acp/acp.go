// Package acp is the wire format the payment adapter (package unionpay) and
// the sandbox payment channel (package sync/sandbox/paychannel) both speak:
// UnionPay's ACP (全渠道) back-end interface as public merchant code shows
// it, version 5.1.0, with two departures the design asks for. Requests and
// answers are form-encoded fields, signed over the sorted "k=v&..." string
// of every non-empty field except the signature; real ACP signs with RSA
// certificates (signMethod 01), and medterm signs with SM2 over SM3
// (signMethod 02, a value of our own). And the agreement calls, which no
// public specification has, are medterm's own operations over the same
// transport, named as such below.
//
// It holds no policy: field names, codes, the canonical string, signing,
// the brace-bag sub-fields, the Beijing time layout and the daily
// statement file. Both ends depend on it, so its tests pin the format with
// vectors written out by hand rather than by round trips alone.
package acp

import (
	"fmt"
	"time"
)

// Fixed values of every message.
const (
	Version  = "5.1.0"
	Encoding = "UTF-8"
	// SignMethodSM2 is SM2 signing over SM3 with the default user id.
	// ACP publishes 01 (RSA certificate), 11 (SHA-256 with a key) and 12
	// (SM3 with a key); no public source gives an SM2 value, so 02 is
	// medterm's.
	SignMethodSM2 = "02"
	// AccessMerchant: the merchant connects directly (accessType 0).
	AccessMerchant = "0"
	// ChannelInternet is channelType 07, what the demos send for back-end
	// token payments.
	ChannelInternet = "07"
	// CurrencyCNY is currencyCode 156.
	CurrencyCNY = "156"
)

// Field names.
const (
	FVersion      = "version"
	FEncoding     = "encoding"
	FSignMethod   = "signMethod"
	FSignature    = "signature"
	FTxnType      = "txnType"
	FTxnSubType   = "txnSubType"
	FBizType      = "bizType"
	FAccessType   = "accessType"
	FChannelType  = "channelType"
	FMerID        = "merId"
	FOrderID      = "orderId"
	FTxnTime      = "txnTime"
	FTxnAmt       = "txnAmt"
	FCurrencyCode = "currencyCode"
	FTokenPayData = "tokenPayData" // a bag: {trId=..&token=..}
	FReqReserved  = "reqReserved"  // the merchant's own text, echoed back
	FReserved     = "reserved"     // a bag of extension fields
	FOrigQryID    = "origQryId"
	FQueryID      = "queryId"
	FSettleDate   = "settleDate" // MMdd
	FSettleAmt    = "settleAmt"
	FTraceNo      = "traceNo"
	FTraceTime    = "traceTime"
	FRespCode     = "respCode"
	FRespMsg      = "respMsg"
	FOrigRespCode = "origRespCode"
	FOrigRespMsg  = "origRespMsg"
	FFileType     = "fileType"
	FFileName     = "fileName"
	FFileContent  = "fileContent"
	FAccNo        = "accNo"        // SM2-encrypted, base64
	FCustomerInfo = "customerInfo" // SM2-encrypted bag, base64
)

// Sub-fields of the bags.
const (
	BagTrID        = "trId"
	BagToken       = "token"
	BagAgreementID = "agreementId" // reserved: medterm
	BagConfirmed   = "confirmed"   // reserved: medterm, "1" when the patient confirmed
	BagRegion      = "insuRegion"  // reserved: medterm
	BagOperator    = "operatorId"  // reserved: medterm
	BagOperatorTp  = "operatorType"
	BagSourceKind  = "sourceKind"   // reserved: medterm, the kind of a source signed
	BagBank        = "bank"         // reserved: medterm
	BagAcctFirst   = "accountFirst" // reserved: medterm, "1" or "0"
	BagPerTxn      = "perTxnLimit"  // reserved: medterm, fen
	BagDaily       = "dailyLimit"   // reserved: medterm, fen
	BagCertifTp    = "certifTp"     // customerInfo: 01 resident ID card
	BagCertifID    = "certifId"
	BagCustomerNm  = "customerNm"
	CertifResident = "01"
)

// Transaction types, subtypes and business types of ACP, as its demos send
// them for token payment (research notes §12).
const (
	TxnQuery     = "00"
	TxnConsume   = "01"
	TxnRefund    = "04"
	TxnCancel    = "31"
	TxnStatement = "76"

	SubDefault   = "00"
	SubConsume   = "01"
	SubStatement = "01"

	BizToken = "000902" // token payment without redirect
	// BizCancel is what the official token demo sends for a consume undo.
	BizCancel  = "000201"
	BizGeneral = "000000" // query and file transfer

	FileTypeGeneral = "00"
)

// The agreement operations are medterm's own: no public specification
// lets a merchant look an agreement up by the patient. They use txnType
// values with letters, which no ACP code has, so that no real channel can
// mistake one for a payment, and bizType BizAgreement.
const (
	TxnAgreementQuery  = "M0"
	TxnAgreementSign   = "M1"
	TxnAgreementLimits = "M2"
	TxnAgreementCancel = "M3"
	BizAgreement       = "MT0001"
)

// Agreement answer fields (medterm). Sources are numbered from 1 in the
// patient's order of priority: src1Kind, src1Token, ...
const (
	FAgreementID   = "agreementId"
	FAccountFirst  = "accountFirst" // "1" or "0"
	FPerTxnLimit   = "perTxnLimit"  // fen
	FDailyLimit    = "dailyLimit"   // fen
	FSrcKind       = "Kind"
	FSrcToken      = "Token"
	FSrcMasked     = "Masked"
	FSrcBank       = "Bank"
	FSrcAvailable  = "Available" // fen, credit lines
	FFamilyRel     = "familyRelation"
	FFamilyConfirm = "familyConfirm" // "1": confirm first
	FFamilySigner  = "familySigner"  // masked
)

// SourceField names the field of source i (from 1): SourceField(2, FSrcKind)
// is "src2Kind".
func SourceField(i int, name string) string { return fmt.Sprintf("src%d%s", i, name) }

// Paths under the channel's base URL. Real ACP has one back-end URL for
// payments and reversals, one for single queries and one for files; the
// agreement path is medterm's.
const (
	PathBackTrans = "/backTransReq.do"
	PathQuery     = "/queryTrans.do"
	PathFile      = "/fileTransReq.do"
	PathAgreement = "/medterm/agreement.do"
)

// MaxBody bounds a request or an answer: a statement file of a busy day
// is the largest message, well under this.
const MaxBody = 8 << 20

// CST is Beijing time, in which txnTime is written and clearing days run.
var CST = time.FixedZone("CST", 8*3600)

// TimeLayout is txnTime's layout, yyyyMMddHHmmss.
const TimeLayout = "20060102150405"

// FormatTime writes t as a txnTime in Beijing time.
func FormatTime(t time.Time) string { return t.In(CST).Format(TimeLayout) }

// ParseTime reads a txnTime.
func ParseTime(s string) (time.Time, error) {
	if len(s) != len(TimeLayout) || !Digits(s) {
		return time.Time{}, fmt.Errorf("txnTime %q: %w", s, ErrFormat)
	}
	t, err := time.ParseInLocation(TimeLayout, s, CST)
	if err != nil {
		return time.Time{}, fmt.Errorf("txnTime %q: %w", s, ErrFormat)
	}
	return t, nil
}

// SettleDate is the MMdd clearing day of t. A clearing day here is the
// Beijing calendar day; UnionPay's own cut-over (23:00) is not modelled.
func SettleDate(t time.Time) string { return t.In(CST).Format("0102") }

// Day is t's Beijing calendar day, as a key: "2026-03-10".
func Day(t time.Time) string { return t.In(CST).Format(time.DateOnly) }

// ValidOrderID reports whether s is an ACP orderId: 8 to 32 letters and
// digits.
func ValidOrderID(s string) bool {
	if len(s) < 8 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Digits reports whether s is non-empty and all ASCII digits.
func Digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
