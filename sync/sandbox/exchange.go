package sandbox

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	bolt "go.etcd.io/bbolt"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/personas"
	"github.com/seed-a859fada/medterm/sync/transport"
)

// incoming is one transaction request as it arrived.
type incoming struct {
	infno    string // from the body, for logs
	header   http.Header
	body     []byte
	received time.Time
}

// outcome is the HTTP status and body of an answer: an envelope, a
// gateway's refusal outside the envelope, or a file (9102).
type outcome struct {
	status  int
	resp    protocol.Response
	gateway *transport.GatewayRefusal
	file    []byte
}

// fileAnswer is a handler's output that is a file, not an envelope's
// output.
type fileAnswer []byte

// refusal is a processed failure: the platform read the request and said
// no. Unlike a door refusal it is stored under the msgid and replayed.
type refusal struct {
	code, msg string
	// keep commits what the handler wrote along with the answer (a
	// reversal's tombstone). Without it the handler's writes are rolled
	// back and only the answer is stored, so a refused request changes
	// nothing whatever the handler did before refusing.
	keep bool
}

func (r *refusal) Error() string { return r.code + ": " + r.msg }

func refuse(code, format string, args ...any) error {
	return &refusal{code: code, msg: fmt.Sprintf(format, args...)}
}

// errRefused carries a refusal out of a transaction pass so that bbolt
// rolls the pass back.
type errRefused struct{ r *refusal }

func (e *errRefused) Error() string { return e.r.Error() }

// call is the context of one transaction pass.
type call struct {
	p      *Platform
	tx     *bolt.Tx
	now    time.Time
	req    *protocol.Request
	inst   *personas.Institution
	setlID string // the settlement a 2207 booked or a 2208 cancelled
}

type handler func(c *call, input any) (output any, err error)

// typed adapts a handler of one input type to the table.
func typed[I any](f func(c *call, in *I) (any, error)) handler {
	return func(c *call, in any) (any, error) { return f(c, in.(*I)) }
}

// handlers has one entry per transaction of protocol.Table.
var handlers = map[string]handler{
	protocol.SignIn.Infno:          typed(signIn),
	protocol.PersonInfo.Infno:      typed(personInfo),
	protocol.Register.Infno:        typed(register),
	protocol.RegisterCancel.Infno:  typed(registerCancel),
	protocol.UploadFees.Infno:      typed(uploadFees),
	protocol.FeesCancel.Infno:      typed(feesCancel),
	protocol.PreSettle.Infno:       typed(preSettle),
	protocol.Settle.Infno:          typed(settle),
	protocol.CancelSettle.Infno:    typed(cancelSettlement),
	protocol.Reverse.Infno:         typed(reverse),
	protocol.ReconcileTotals.Infno: typed(reconcile),
	protocol.ReconcileDetail.Infno: typed(reconcileDetail),
	protocol.UploadFile.Infno:      typed(uploadFile),
	protocol.DownloadFile.Infno:    typed(downloadFile),
	protocol.PolicyParams.Infno:    typed(policyParams),
	protocol.TrustList.Infno:       typed(trustList),
}

// exchange answers one request: the gateway's door (the transport
// profile's checks, answered outside the envelope as a real gateway does),
// then one bbolt transaction for the nonce, the envelope, the session, the
// msgid and the transaction's effect together with its stored answer, so
// a crash can never book without remembering the answer.
func (p *Platform) exchange(in incoming) outcome {
	d, refused := p.door(in)
	if refused != nil {
		p.log.Info("refused at the gateway", "auth", p.auth, "message", refused.Message)
		return outcome{status: http.StatusUnauthorized, gateway: refused}
	}
	if d.bad != "" {
		return p.logged(in, outcome{status: http.StatusBadRequest, resp: p.doorAnswer(protocol.CodeBadRequest, d.bad)})
	}
	var failure *refusal
	for {
		var out outcome
		err := p.db.Update(func(tx *bolt.Tx) error {
			var err error
			out, err = p.pass(tx, in, d, failure)
			return err
		})
		var rr *errRefused
		if errors.As(err, &rr) && failure == nil {
			// Roll back, then store only the answer in a second pass.
			failure = rr.r
			continue
		}
		if err != nil {
			p.log.Error("transaction failed", "infno", in.infno, "err", err)
			return p.logged(in, outcome{status: http.StatusInternalServerError, resp: p.doorAnswer(protocol.CodeInternal, "internal error; the request was not processed")})
		}
		return p.logged(in, p.seal(d, out))
	}
}

func (p *Platform) logged(in incoming, out outcome) outcome {
	p.log.Info("transaction", "infno", in.infno, "status", out.status, "err_code", out.resp.ErrCode, "file", out.file != nil)
	return out
}

// pass runs the checks and the transaction inside tx. With refused set it
// stores that answer instead of running the handler.
func (p *Platform) pass(tx *bolt.Tx, in incoming, d doorPass, refused *refusal) (outcome, error) {
	c := &call{p: p, tx: tx, now: in.received}
	if d.nonce != "" {
		if replay, err := c.useNonce(d.institution, d.nonce); replay || err != nil {
			return outcome{status: http.StatusUnauthorized, gateway: &transport.RefuseReplay}, err
		}
	}
	input, out, ok := c.checkEnvelope(in, d)
	if !ok {
		return out, nil
	}
	fp := fingerprint(c.req.Infno, c.req.Input)
	var rec msgidRecord
	found, err := getJSON(tx, bucketMsgids, []byte(c.req.Msgid), &rec)
	if err != nil {
		return outcome{}, err
	}
	if found {
		if rec.Fingerprint != fp {
			return c.answerOnly(&refusal{code: protocol.CodeMsgidConflict, msg: "msgid already used for a different request"})
		}
		return c.replay(rec)
	}
	var tomb tombstone
	if found, err := getJSON(tx, bucketTombstones, []byte(c.req.Msgid), &tomb); err != nil || found {
		if err != nil {
			return outcome{}, err
		}
		return c.answerOnly(&refusal{code: protocol.CodeReversed, msg: "this msgid was reversed before it arrived; it is never booked"})
	}
	if err := pruneIndex(tx, bucketMsgidTimes, bucketMsgids, c.now.Add(-msgidRetention).Unix()); err != nil {
		return outcome{}, fmt.Errorf("%w: prune msgids: %v", ErrState, err)
	}
	var output any
	failure := refused
	if failure == nil {
		output, err = handlers[c.req.Infno](c, input)
		if errors.As(err, &failure) {
			if !failure.keep {
				return outcome{}, &errRefused{failure}
			}
		} else if err != nil {
			return outcome{}, err
		}
	}
	resp, err := c.response(output, failure)
	if err != nil {
		return outcome{}, err
	}
	raw, err := json.Marshal(resp)
	if err != nil {
		return outcome{}, fmt.Errorf("%w: encode answer: %v", ErrState, err)
	}
	rec = msgidRecord{Infno: c.req.Infno, Fingerprint: fp, Time: c.now, Response: raw, SetlID: c.setlID}
	if failure != nil {
		rec.SetlID = ""
	}
	if f, isFile := output.(fileAnswer); isFile && failure == nil {
		rec.File = []byte(f)
	}
	if err := putJSON(tx, bucketMsgids, []byte(c.req.Msgid), &rec); err != nil {
		return outcome{}, err
	}
	if err := tx.Bucket(bucketMsgidTimes).Put(timeKey(c.now.Unix(), []byte(c.req.Msgid)), nil); err != nil {
		return outcome{}, fmt.Errorf("%w: %v", ErrState, err)
	}
	if rec.File != nil {
		return outcome{status: http.StatusOK, file: rec.File}, nil
	}
	return outcome{status: http.StatusOK, resp: resp}, nil
}

// replay answers a msgid seen before with its first answer.
func (c *call) replay(rec msgidRecord) (outcome, error) {
	if rec.File != nil {
		return outcome{status: http.StatusOK, file: rec.File}, nil
	}
	var resp protocol.Response
	if err := json.Unmarshal(rec.Response, &resp); err != nil {
		return outcome{}, fmt.Errorf("%w: stored answer of %s: %v", ErrState, c.req.Msgid, err)
	}
	resp.WarnMsg = protocol.CodeDuplicate // the sandbox marks a replay; real warn_msg texts vary
	return outcome{status: http.StatusOK, resp: resp}, nil
}

// useNonce records the request's nonce, reporting one already seen.
// Nonces older than twice the gateway's window are pruned: a request that
// old fails the timestamp check anyway.
func (c *call) useNonce(paasID, nonce string) (replay bool, err error) {
	key := []byte(paasID + "\x00" + nonce)
	if c.tx.Bucket(bucketNonces).Get(key) != nil {
		return true, nil
	}
	ms := c.now.UnixMilli()
	if err := c.tx.Bucket(bucketNonces).Put(key, []byte(fmt.Sprint(ms))); err != nil {
		return false, fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := c.tx.Bucket(bucketNonceTimes).Put(timeKey(ms, key), nil); err != nil {
		return false, fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := pruneIndex(c.tx, bucketNonceTimes, bucketNonces, ms-2*c.p.tifWindow.Milliseconds()); err != nil {
		return false, fmt.Errorf("%w: prune nonces: %v", ErrState, err)
	}
	return false, nil
}

// checkEnvelope decodes the envelope (its input already opened by the
// door) and checks everything a refusal before the transaction covers.
// Unknown fields are accepted, as real platforms accept them; what the
// platform uses is checked. Such a refusal is not stored under the msgid:
// the client fixes the envelope and resends the same msgid.
func (c *call) checkEnvelope(in incoming, d doorPass) (input any, out outcome, ok bool) {
	req := d.env
	c.req = &req
	if req.Infno == "" {
		return nil, c.door(protocol.CodeBadRequest, "envelope has no infno"), false
	}
	if _, known := handlers[req.Infno]; !known {
		return nil, c.door(protocol.CodeUnknownTx, fmt.Sprintf("transaction %q is not served", req.Infno)), false
	}
	inst, known := c.p.data.Institution(req.FixmedinsCode)
	if !known {
		return nil, c.door(protocol.CodeBadRequest, fmt.Sprintf("unknown institution %q", req.FixmedinsCode)), false
	}
	c.inst = inst
	if err := protocol.ValidMsgid(req.Msgid); err != nil {
		return nil, c.door(protocol.CodeBadRequest, err.Error()), false
	}
	if !strings.HasPrefix(req.Msgid, req.FixmedinsCode) {
		return nil, c.door(protocol.CodeBadRequest, "msgid does not start with the institution code"), false
	}
	if req.Infno != protocol.SignIn.Infno {
		if msg, valid := c.sessionValid(req.SignNo); !valid {
			return nil, c.door(protocol.CodeSignExpired, msg), false
		}
	}
	input, err := protocol.DecodeInput(req.Infno, req.Input)
	if err != nil {
		return nil, c.door(protocol.CodeBadRequest, err.Error()), false
	}
	return input, outcome{}, true
}

func (c *call) sessionValid(signNo string) (string, bool) {
	if signNo == "" {
		return "no sign_no: sign in (9001) first", false
	}
	var s session
	found, err := getJSON(c.tx, bucketSessions, []byte(signNo), &s)
	switch {
	case err != nil || !found:
		return "unknown or ended session: sign in (9001) again", false
	case s.Institution != c.req.FixmedinsCode:
		return "session belongs to another institution", false
	case !c.now.Before(s.Expires):
		return "session expired: sign in (9001) again", false
	}
	return "", true
}

// fingerprint identifies a request's content for msgid idempotency: SM3 of
// the infno and the compacted input, so whitespace does not matter.
func fingerprint(infno string, input json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, input); err != nil {
		buf.Reset()
		buf.Write(input)
	}
	h := sm3.New()
	h.Write([]byte(infno))
	h.Write(buf.Bytes())
	return hex.EncodeToString(h.Sum(nil))
}

// door builds a refusal inside a pass that is not stored.
func (c *call) door(code, msg string) outcome {
	return outcome{status: statusOf(code), resp: c.failure(code, msg)}
}

// answerOnly answers a processed refusal that is not stored (a conflict,
// a reversed msgid): storing it would overwrite or invent a first answer.
func (c *call) answerOnly(r *refusal) (outcome, error) {
	return outcome{status: http.StatusOK, resp: c.failure(r.code, r.msg)}, nil
}

func (c *call) failure(code, msg string) protocol.Response {
	return c.p.envelope(c.now, c.serial(), protocol.Response{Infcode: protocol.InfcodeFail, ErrCode: code, ErrMsg: errMsg(code, msg, c.now)})
}

// response is a success's answer. A transaction whose success carries no
// output (2601, 2202, 2205) answers without one, as real platforms do; a
// file's answer is the file itself, stored beside this envelope.
func (c *call) response(output any, f *refusal) (protocol.Response, error) {
	if f != nil {
		return c.failure(f.code, f.msg), nil
	}
	r := protocol.Response{Infcode: protocol.InfcodeOK}
	if _, isFile := output.(fileAnswer); output != nil && !isFile {
		raw, err := json.Marshal(output)
		if err != nil {
			return protocol.Response{}, fmt.Errorf("%w: encode %s output: %v", ErrState, c.req.Infno, err)
		}
		r.Output = raw
	}
	return c.p.envelope(c.now, c.serial(), r), nil
}

// serial numbers an answer from the state file's sequence, so serials stay
// unique across restarts.
func (c *call) serial() uint64 {
	n, err := c.tx.Bucket(bucketRefmsg).NextSequence()
	if err != nil {
		return c.p.nextDoorSerial()
	}
	return n % doorSerialBase
}

// Answers given before the state file is touched take serials from a
// separate range, 9000000000 and up, counted in memory: they are never
// stored, so only their uniqueness within a run matters.
const doorSerialBase = 9_000_000_000

func (p *Platform) nextDoorSerial() uint64 {
	return doorSerialBase + p.doorSerial.Add(1)%doorSerialBase
}

// doorAnswer builds a failure answer outside any state transaction.
func (p *Platform) doorAnswer(code, msg string) protocol.Response {
	now := p.clock.Now()
	return p.envelope(now, p.nextDoorSerial(), protocol.Response{Infcode: protocol.InfcodeFail, ErrCode: code, ErrMsg: errMsg(code, msg, now)})
}

// envelope fills the reference fields of an answer: inf_refmsgid is the
// platform region (6), the time (14) and the serial (10).
func (p *Platform) envelope(received time.Time, serial uint64, r protocol.Response) protocol.Response {
	r.InfRefmsgid = fmt.Sprintf("%s%s%010d", p.data.Platform.Region, received.In(protocol.CST).Format("20060102150405"), serial)
	r.RefmsgTime = protocol.FormatRespondTime(received)
	r.RespondTime = protocol.FormatRespondTime(p.clock.Now())
	return r
}
