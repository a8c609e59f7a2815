package paychannel

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/agent/mask"
	"github.com/seed-a859fada/medterm/agent/money"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// Buckets of the state file. Every value is JSON; amounts are fen.
var (
	bucketMeta       = []byte("meta")       // schema
	bucketAgreements = []byte("agreements") // agreement id → agreementRec
	bucketLinks      = []byte("links")      // link id → linkRec
	bucketHolders    = []byte("holders")    // ID number → holderRec
	bucketOrders     = []byte("orders")     // merId "/" orderId → orderRec
	bucketQueryIDs   = []byte("query_ids")  // queryId → order key
	bucketDays       = []byte("days")       // "2026-03-10/" queryId → nil: the statement's index
	bucketUsage      = []byte("usage")      // agreement id "/" day → fen debited password-free

	allBuckets = [][]byte{bucketMeta, bucketAgreements, bucketLinks, bucketHolders, bucketOrders, bucketQueryIDs, bucketDays, bucketUsage}
)

var metaSchema = []byte("schema")

// schemaVersion is the state layout this code writes; a file with another
// is refused rather than misread.
const schemaVersion = 1

// agreementRec is a signer's agreement.
type agreementRec struct {
	ID           string      `json:"id"`
	Holder       string      `json:"holder"` // ID number
	Name         string      `json:"name"`
	AccountFirst bool        `json:"account_first"`
	Sources      []sourceRec `json:"sources"`
	// PerPayment and Daily are the holder's own limits; zero is the
	// rollout's.
	PerPayment money.Fen `json:"per_payment"`
	Daily      money.Fen `json:"daily"`
	Links      []string  `json:"links,omitempty"` // the family links it pays for
	Cancelled  bool      `json:"cancelled,omitempty"`
}

// sourceRec is one source of an agreement.
type sourceRec struct {
	Kind   string `json:"kind"`
	Token  string `json:"token"`
	Masked string `json:"masked"`
	Bank   string `json:"bank"`
	// Balance is a card's balance or a credit line's unused amount.
	Balance money.Fen `json:"balance"`
	Limit   money.Fen `json:"limit,omitempty"`
	// Account is the SM3 of the number signed, so signing it again binds
	// nothing new; the number itself is not kept.
	Account   string `json:"account,omitempty"`
	Cancelled bool   `json:"cancelled,omitempty"`
}

// linkRec is a family-pay link: Signer's agreement pays Member's part.
type linkRec struct {
	ID           string `json:"id"`
	Member       string `json:"member"` // ID number
	Signer       string `json:"signer"` // agreement id
	Relation     string `json:"relation"`
	ConfirmFirst bool   `json:"confirm_first"`
	Cancelled    bool   `json:"cancelled,omitempty"`
}

// holderRec indexes a person's agreement and the link that covers them.
type holderRec struct {
	Own  string `json:"own,omitempty"`
	Link string `json:"link,omitempty"`
}

// orderRec is an order the channel answered, kept for its answer and, for
// a payment, for its reversals and the statement.
type orderRec struct {
	MerID       string     `json:"mer_id"`
	OrderID     string     `json:"order_id"`
	TxnTime     string     `json:"txn_time"`
	TxnType     string     `json:"txn_type"`
	Fingerprint string     `json:"fingerprint"`
	Answer      acp.Fields `json:"answer"` // the first answer, unsigned
	// Code and Msg are the order's true outcome, which a fault may have
	// hidden behind a 03 or 05 in Answer; a query tells them.
	Code string `json:"code"`
	Msg  string `json:"msg"`
	// For a booked payment, cancel or refund:
	QueryID   string    `json:"query_id,omitempty"`
	Amount    money.Fen `json:"amount,omitempty"`
	SettleDay string    `json:"settle_day,omitempty"` // Beijing day, 2026-03-10
	Booked    time.Time `json:"booked,omitempty"`
	Agreement string    `json:"agreement,omitempty"` // the payer's agreement
	Token     string    `json:"token,omitempty"`
	Masked    string    `json:"masked,omitempty"`
	Confirmed bool      `json:"confirmed,omitempty"`
	OrigQryID string    `json:"orig_qry_id,omitempty"`
	TxnSub    string    `json:"txn_sub,omitempty"`
	BizType   string    `json:"biz_type,omitempty"`
	// For a payment: what was later given back.
	Refunded  money.Fen `json:"refunded,omitempty"`
	Cancelled bool      `json:"cancelled,omitempty"`
}

func (o *orderRec) booked() bool { return o.QueryID != "" && acp.Success(o.Code) }

func orderKey(merID, orderID string) []byte { return []byte(merID + "/" + orderID) }

func usageKey(agreementID, day string) []byte { return []byte(agreementID + "/" + day) }

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		name, shown := bucketName(b), string(key)
		if name == string(bucketHolders) {
			shown = mask.IDNo(shown) // the key is an ID number: errors end up in logs
		}
		return false, fmt.Errorf("%w: %s/%s: %v", ErrState, name, shown, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encode %s: %v", ErrState, key, err)
	}
	return b.Put(key, raw)
}

func bucketName(b *bolt.Bucket) string {
	for _, name := range allBuckets {
		if b.Tx().Bucket(name) == b {
			return string(name)
		}
	}
	return "?"
}

// state is one transaction's view of the buckets.
type state struct {
	tx *bolt.Tx
}

func (s state) b(name []byte) *bolt.Bucket { return s.tx.Bucket(name) }

func (s state) agreement(id string) (*agreementRec, error) {
	var a agreementRec
	ok, err := getJSON(s.b(bucketAgreements), []byte(id), &a)
	if !ok || err != nil {
		return nil, err
	}
	return &a, nil
}

func (s state) putAgreement(a *agreementRec) error {
	return putJSON(s.b(bucketAgreements), []byte(a.ID), a)
}

func (s state) link(id string) (*linkRec, error) {
	var l linkRec
	ok, err := getJSON(s.b(bucketLinks), []byte(id), &l)
	if !ok || err != nil {
		return nil, err
	}
	return &l, nil
}

func (s state) putLink(l *linkRec) error { return putJSON(s.b(bucketLinks), []byte(l.ID), l) }

func (s state) holder(idNo string) (holderRec, error) {
	var h holderRec
	_, err := getJSON(s.b(bucketHolders), []byte(idNo), &h)
	return h, err
}

func (s state) putHolder(idNo string, h holderRec) error {
	return putJSON(s.b(bucketHolders), []byte(idNo), h)
}

func (s state) order(merID, orderID string) (*orderRec, error) {
	var o orderRec
	ok, err := getJSON(s.b(bucketOrders), orderKey(merID, orderID), &o)
	if !ok || err != nil {
		return nil, err
	}
	return &o, nil
}

// putOrder stores an order and, when it was booked, indexes it by its
// queryId and its clearing day.
func (s state) putOrder(o *orderRec) error {
	key := orderKey(o.MerID, o.OrderID)
	if err := putJSON(s.b(bucketOrders), key, o); err != nil {
		return err
	}
	if o.QueryID == "" {
		return nil
	}
	if err := s.b(bucketQueryIDs).Put([]byte(o.QueryID), key); err != nil {
		return err
	}
	if o.booked() {
		return s.b(bucketDays).Put([]byte(o.SettleDay+"/"+o.QueryID), nil)
	}
	return nil
}

func (s state) orderByQueryID(qid string) (*orderRec, error) {
	key := s.b(bucketQueryIDs).Get([]byte(qid))
	if key == nil {
		return nil, nil
	}
	var o orderRec
	ok, err := getJSON(s.b(bucketOrders), key, &o)
	if !ok || err != nil {
		return nil, err
	}
	return &o, nil
}

func (s state) usage(agreementID, day string) (money.Fen, error) {
	var v money.Fen
	_, err := getJSON(s.b(bucketUsage), usageKey(agreementID, day), &v)
	return v, err
}

func (s state) addUsage(agreementID, day string, f money.Fen) error {
	v, err := s.usage(agreementID, day)
	if err != nil {
		return err
	}
	return putJSON(s.b(bucketUsage), usageKey(agreementID, day), v+f)
}

// nextQueryID allocates a queryId in ACP's shape: 21 digits, here "51",
// the booking time yyMMddHHmmss and a 7-digit serial.
func (s state) nextQueryID(now time.Time) (string, error) {
	seq, err := s.b(bucketQueryIDs).NextSequence()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrState, err)
	}
	return fmt.Sprintf("51%s%07d", now.In(acp.CST).Format("060102150405"), seq%10_000_000), nil
}
