package paychannel

import (
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/seed-a859fada/medterm/sync/sandbox/loopback"
	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// BasePath is where the channel's ACP paths are served: a client's
// payment.url is the server's URL followed by it.
const BasePath = "/gateway/api"

// Handler returns the channel's HTTP interface:
//
//	POST /gateway/api/backTransReq.do         consume (01), cancel (31), refund (04)
//	POST /gateway/api/queryTrans.do           query (00)
//	POST /gateway/api/fileTransReq.do         statement (76)
//	POST /gateway/api/medterm/agreement.do    agreement calls (M0 to M3, medterm's)
//	GET  /admin/ledger                        the Ledger as JSON (loopback peers only)
//
// Every request must name a loopback host, so that a page in a browser
// cannot reach the channel by DNS rebinding.
func (c *Channel) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+BasePath+acp.PathBackTrans, c.serve(func(f acp.Fields) (acp.Fields, error) {
		switch f[acp.FTxnType] {
		case acp.TxnConsume:
			return c.consume(f)
		case acp.TxnCancel:
			return c.cancel(f)
		case acp.TxnRefund:
			return c.refund(f)
		}
		return answerTo(f, refusef(acp.CodeFormat, "txnType %q on the back-end path", f[acp.FTxnType])), nil
	}))
	mux.HandleFunc("POST "+BasePath+acp.PathQuery, c.serve(func(f acp.Fields) (acp.Fields, error) {
		if f[acp.FTxnType] != acp.TxnQuery {
			return answerTo(f, refusef(acp.CodeFormat, "txnType %q on the query path", f[acp.FTxnType])), nil
		}
		return c.query(f)
	}))
	mux.HandleFunc("POST "+BasePath+acp.PathFile, c.serve(func(f acp.Fields) (acp.Fields, error) {
		if f[acp.FTxnType] != acp.TxnStatement {
			return answerTo(f, refusef(acp.CodeFormat, "txnType %q on the file path", f[acp.FTxnType])), nil
		}
		return c.statement(f)
	}))
	mux.HandleFunc("POST "+BasePath+acp.PathAgreement, c.serve(c.agreementOp))
	mux.HandleFunc("GET /admin/ledger", loopback.AdminOnly(c.serveLedger))
	return hostCheck(mux)
}

// serve reads a request, checks it at the door (form, version, merchant,
// signature) and answers what h decides, signed. An internal failure is
// an HTTP 500 without a form: to the merchant, a lost answer, which it
// resends, rather than an answer it would believe.
func (c *Channel) serve(h func(acp.Fields) (acp.Fields, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, acp.MaxBody+1))
		if err != nil || len(body) > acp.MaxBody {
			c.write(w, answerTo(acp.Fields{}, refusef(acp.CodeFormat, "body unreadable or over the limit")))
			return
		}
		f, err := acp.Decode(string(body))
		if err != nil {
			c.write(w, answerTo(acp.Fields{}, refusef(acp.CodeFormat, "%v", err)))
			return
		}
		if bad := c.door(f); bad != nil {
			c.log.Warn("payment channel request refused at the door", "order", f[acp.FOrderID], "resp_code", bad.code)
			c.write(w, answerTo(f, bad))
			return
		}
		ans, err := h(f)
		if err != nil {
			c.log.Error("payment channel failed", "order", f[acp.FOrderID], "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if c.takeLoss() {
			hangUp(w)
			return
		}
		c.write(w, ans)
	}
}

// door refuses what the channel will not look at. Unknown fields pass: a
// real channel is lenient on them.
func (c *Channel) door(f acp.Fields) *refusal {
	switch {
	case f[acp.FVersion] != acp.Version:
		return refusef(acp.CodeFormat, "version %q", f[acp.FVersion])
	case !strings.EqualFold(f[acp.FEncoding], acp.Encoding):
		return refusef(acp.CodeFormat, "encoding %q", f[acp.FEncoding])
	case f[acp.FMerID] == "" || f[acp.FTxnType] == "":
		return refusef(acp.CodeMissing, "merId, txnType")
	case f[acp.FAccessType] != acp.AccessMerchant:
		return refusef(acp.CodeFormat, "accessType %q", f[acp.FAccessType])
	}
	key, ok := c.merchants[f[acp.FMerID]]
	if !ok {
		return refusef(acp.CodeSignature, "unknown merchant")
	}
	if err := acp.Verify([]*ecdsa.PublicKey{key}, f); err != nil {
		return refusef(acp.CodeSignature, "%v", err)
	}
	return nil
}

func (c *Channel) write(w http.ResponseWriter, ans acp.Fields) {
	if err := acp.Sign(c.key, ans); err != nil {
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, ans.Encode())
}

// hangUp closes the connection unanswered: the request was acted on.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // still no answer
	}
	conn.Close()
}

func hostCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopback.Host(r.Host) {
			http.Error(w, "host "+r.Host+" is not a loopback host", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *Channel) serveLedger(w http.ResponseWriter, r *http.Request) {
	l, err := c.Ledger()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(l)
}
