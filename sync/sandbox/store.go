package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/sandbox/policy"
)

// Buckets of the state file. Every value is JSON; amounts in state are
// integer fen.
var (
	bucketMeta        = []byte("meta")        // schema, dataset, seeding year
	bucketPeople      = []byte("people")      // psn_no → personState
	bucketSessions    = []byte("sessions")    // sign_no → session
	bucketNonces      = []byte("nonces")      // institution NUL nonce → unix ms
	bucketNonceTimes  = []byte("nonce_times") // unix ms (8 bytes) + nonce key → nil, for pruning
	bucketMsgids      = []byte("msgids")      // msgid → msgidRecord
	bucketMsgidTimes  = []byte("msgid_times") // unix s (8 bytes) + msgid → nil, for pruning
	bucketTombstones  = []byte("tombstones")  // msgid reversed before it was seen → tombstone
	bucketVisits      = []byte("visits")      // mdtrt_id → visit
	bucketBatches     = []byte("batches")     // mdtrt_id NUL chrg_bchno → batch
	bucketSettlements = []byte("settlements") // setl_id → settlement
	bucketRefmsg      = []byte("refmsg")      // only its sequence: inf_refmsgid serials

	// Schema 2: the patients' phones.
	bucketIssuers     = []byte("issuers")      // key id (2 bytes) → issuerRecord
	bucketPhones      = []byte("phones")       // persona key → phoneRecord
	bucketTokens      = []byte("tokens")       // person token (hex) → psn_no
	bucketQRCounters  = []byte("qr_counters")  // serial (16 hex) → highest counter accepted (8 bytes)
	bucketOpaque      = []byte("opaque_codes") // opaque code text → opaqueRecord
	bucketOpaqueTimes = []byte("opaque_times") // unix s (8 bytes) + code → nil, for pruning

	// Schema 3: files (9101, 3202's results) and e-voucher tokens.
	bucketFiles      = []byte("files")       // file_qury_no → fileRecord
	bucketFileTimes  = []byte("file_times")  // unix s (8 bytes) + file_qury_no → nil, for pruning
	bucketECTokens   = []byte("ec_tokens")   // ecToken → ecTokenRecord
	bucketECTokenTms = []byte("ec_token_tm") // unix s (8 bytes) + ecToken → nil, for pruning

	allBuckets = [][]byte{
		bucketMeta, bucketPeople, bucketSessions, bucketNonces, bucketNonceTimes,
		bucketMsgids, bucketMsgidTimes, bucketTombstones, bucketVisits, bucketBatches,
		bucketSettlements, bucketRefmsg,
		bucketIssuers, bucketPhones, bucketTokens, bucketQRCounters, bucketOpaque, bucketOpaqueTimes,
		bucketFiles, bucketFileTimes, bucketECTokens, bucketECTokenTms,
	}
)

// Meta keys.
var (
	metaSchema       = []byte("schema")
	metaDataset      = []byte("dataset")
	metaTrustVersion = []byte("trust_version")
)

// schemaVersion is the state file layout this code writes. A file with a
// newer one is refused rather than misread; an older one is migrated.
//
//	1: people, sessions, msgids, visits, batches, settlements
//	2: issuer keys, phones, person tokens, code counters, opaque codes
//	3: files (9101 uploads, 3202 results), e-voucher tokens
const schemaVersion = 3

// Retention of single-use and idempotency records.
const (
	msgidRetention = 180 * 24 * time.Hour
	pruneBatch     = 64 // records pruned per request, so a request's cost stays bounded
)

// personState is the mutable side of a person: balances and consumption.
type personState struct {
	PsnNo   string    `json:"psn_no"`
	Account money.Fen `json:"account"`
	Bank    money.Fen `json:"bank"`
	Credit  money.Fen `json:"credit"` // available on the credit line
	// Years is the deductible and fund consumption per CST calendar year
	// ("2026").
	Years map[string]policy.YearUsage `json:"years"`
	// Days is what was debited password-free per CST day ("2026-11-23").
	Days map[string]money.Fen `json:"days"`
}

// daysKept bounds personState.Days: only today's usage matters, a week is
// kept for the ledger.
const daysKept = 7

func (s *personState) pruneDays(today time.Time) {
	oldest := today.AddDate(0, 0, -daysKept).Format("2006-01-02")
	for d := range s.Days {
		if d < oldest {
			delete(s.Days, d)
		}
	}
}

type session struct {
	Institution string    `json:"institution"`
	Opter       string    `json:"opter"`
	Expires     time.Time `json:"expires"`
}

type msgidRecord struct {
	Infno       string          `json:"infno"`
	Fingerprint string          `json:"fingerprint"`
	Time        time.Time       `json:"time"`
	Response    json.RawMessage `json:"response"`
	// SetlID is the settlement a successful 2207 booked or a successful
	// 2208 cancelled: what a reversal of this msgid undoes.
	SetlID string `json:"setl_id,omitempty"`
	// File is the answer of a 9102: the file itself.
	File []byte `json:"file,omitempty"`
}

type tombstone struct {
	Time      time.Time `json:"time"`
	ByMsgid   string    `json:"by_msgid"` // the 2601 that created it
	PsnNo     string    `json:"psn_no"`
	OrigInfno string    `json:"oinfno"`
}

type visit struct {
	Cancelled   bool      `json:"cancelled,omitempty"` // 2202
	MdtrtID     string    `json:"mdtrt_id"`
	PsnNo       string    `json:"psn_no"`
	Insutype    string    `json:"insutype"`
	Institution string    `json:"institution"`
	Begntime    string    `json:"begntime"`
	IptOtpNo    string    `json:"ipt_otp_no"`
	Created     time.Time `json:"created"`
}

type feeItem struct {
	FeedetlSn   string `json:"feedetl_sn"`
	MedListCodg string `json:"med_list_codg"`
	Class       string `json:"class"`
	// Cnt and Pric at the wire's scale (10^-4 units, 10^-6 yuan). Named
	// apart from schema 2's whole counts and fen prices, which an older
	// file's pending batches still hold and nothing reads.
	Cnt  money.Quantity `json:"cnt_e4"`
	Pric money.Price    `json:"pric_e6"`
	policy.Item
}

type batch struct {
	MdtrtID   string    `json:"mdtrt_id"`
	ChrgBchno string    `json:"chrg_bchno"`
	Items     []feeItem `json:"items"`
	// SetlID is the active (not cancelled, not reversed) settlement of the
	// batch; a batch is settled at most once at a time.
	SetlID string `json:"setl_id,omitempty"`
}

func batchKey(mdtrtID, chrgBchno string) []byte { return []byte(mdtrtID + "\x00" + chrgBchno) }

func (b *batch) sum() policy.Item {
	items := make([]policy.Item, len(b.Items))
	for i, it := range b.Items {
		items[i] = it.Item
	}
	return policy.Sum(items)
}

// settlement is one booked 2207 and what became of it.
type settlement struct {
	SetlID      string    `json:"setl_id"`
	Msgid       string    `json:"msgid"`
	Institution string    `json:"institution"`
	DevNo       string    `json:"dev_no,omitempty"` // the terminal that sent the 2207; it reconciles only its own
	MdtrtID     string    `json:"mdtrt_id"`
	ChrgBchno   string    `json:"chrg_bchno"`
	PsnNo       string    `json:"psn_no"`
	Insutype    string    `json:"insutype"`
	Time        time.Time `json:"time"`
	Date        string    `json:"date"` // CST settlement date
	Year        string    `json:"year"`

	policy.Item                  // total and its class split
	Fund        money.Fen        `json:"fund"`
	Consumed    policy.YearUsage `json:"consumed"`
	AcctPay     money.Fen        `json:"acct_pay"`
	CashPay     money.Fen        `json:"cash_pay"`
	HospPart    money.Fen        `json:"hosp_part,omitempty"`
	Deductible  money.Fen        `json:"deductible,omitempty"` // of the year's, applied by this bill
	Status      string           `json:"status"`
	Source      string           `json:"source,omitempty"`
	PayerPsnNo  string           `json:"payer_psn_no,omitempty"`
	AuthNo      string           `json:"auth_no,omitempty"`
	Reason      string           `json:"reason,omitempty"`

	Cancelled    bool      `json:"cancelled"`
	CancelMsgid  string    `json:"cancel_msgid,omitempty"`
	CancelTime   time.Time `json:"cancel_time,omitzero"`
	CancelSetlID string    `json:"cancel_setl_id,omitempty"` // the cancellation's own setl_id
	Reversed     bool      `json:"reversed"`
	ReverseMsgid string    `json:"reverse_msgid,omitempty"`
}

// active reports whether the settlement counts: booked and not undone.
func (s *settlement) active() bool { return !s.Cancelled && !s.Reversed }

// debited reports whether the settlement took money from a source.
func (s *settlement) debited() bool { return s.Source != "" && s.AcctPay+s.CashPay > 0 }

// getJSON reads key from bucket into v; found is false when absent.
func getJSON(tx *bolt.Tx, bucket, key []byte, v any) (found bool, err error) {
	data := tx.Bucket(bucket).Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%w: %s/%s: %v", ErrState, bucket, key, err)
	}
	return true, nil
}

func unmarshalState(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	return nil
}

func putJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encode %s/%s: %v", ErrState, bucket, key, err)
	}
	if err := tx.Bucket(bucket).Put(key, data); err != nil {
		return fmt.Errorf("%w: write %s/%s: %v", ErrState, bucket, key, err)
	}
	return nil
}

// timeKey prefixes key with a big-endian number so that a cursor walks the
// index oldest first.
func timeKey(n int64, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, uint64(n))
	return append(k, key...)
}

// pruneIndex deletes up to pruneBatch records older than before from a time
// index and, through it, from the bucket it indexes.
func pruneIndex(tx *bolt.Tx, index, target []byte, before int64) error {
	idx, tgt := tx.Bucket(index), tx.Bucket(target)
	c := idx.Cursor()
	k, _ := c.First()
	for n := 0; n < pruneBatch && len(k) >= 8; n++ {
		if int64(binary.BigEndian.Uint64(k[:8])) >= before {
			return nil
		}
		if err := tgt.Delete(k[8:]); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
		// Start again from the first key: Next after a Delete can skip one.
		k, _ = c.First()
	}
	return nil
}
