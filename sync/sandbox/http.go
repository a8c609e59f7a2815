package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/seed-a859fada/medterm/sync/protocol"
	"github.com/seed-a859fada/medterm/sync/sandbox/loopback"
)

// The platform's paths. CallPath is the gateway's one URL, as the
// specification's sample code names it: every transaction is posted
// there, its infno in the body.
const (
	CallPath    = "/fsi/api/rsfComIfsService/callService"
	TokenPath   = "/fsi/oauth/token"
	ECQueryPath = "/localcfc/api/hsecfc/localQrCodeQuery"
)

// Handler returns the platform's HTTP interface:
//
//	POST CallPath                a transaction (package protocol), through the gateway's profile
//	POST TokenPath               the oauth_sm profile's token endpoint
//	POST ECQueryPath             the e-voucher component's ec.query (EVoucher)
//	GET  /admin/ledger           the Ledger as JSON
//	POST /admin/sessions/expire  ExpireSessions
//	GET  /admin/health           200 when the state file answers
//	GET  /admin/outage           {"down": bool}
//	POST /admin/outage           {"down": bool}: SetOutage
//	GET  /admin/cards            the card readers and what is in them
//	POST /admin/cards/insert     CardInsert: a persona's card into a reader
//	POST /admin/cards/remove     CardRemove: the card out of a reader
//	GET  /admin/phones           the personas' phones (PhoneInfo)
//	GET  /admin/phones/{persona}/code?format=text|json|png|terminal
//	                             the phone's next code (Code)
//
// Every request must name a loopback host (a DNS-rebinding page cannot
// reach the platform through a victim's browser); the admin endpoints also
// require a loopback peer, even with AllowRemote. During an outage every
// transaction (and token and e-voucher) request loses its connection
// unanswered.
func (p *Platform) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+CallPath, p.serveTx)
	mux.HandleFunc("POST "+ECQueryPath, p.serveECQuery)
	if p.oauth != nil {
		mux.HandleFunc("POST "+TokenPath, p.oauth.ServeToken)
	}
	mux.HandleFunc("GET /admin/ledger", loopback.AdminOnly(p.serveLedger))
	mux.HandleFunc("POST /admin/sessions/expire", loopback.AdminOnly(p.serveExpire))
	mux.HandleFunc("GET /admin/health", loopback.AdminOnly(p.serveHealth))
	mux.HandleFunc("GET /admin/outage", loopback.AdminOnly(p.serveOutage))
	mux.HandleFunc("POST /admin/outage", loopback.AdminOnly(p.serveOutage))
	mux.HandleFunc("GET /admin/cards", loopback.AdminOnly(p.serveCards))
	mux.HandleFunc("POST /admin/cards/insert", loopback.AdminOnly(p.serveCardInsert))
	mux.HandleFunc("POST /admin/cards/remove", loopback.AdminOnly(p.serveCardRemove))
	mux.HandleFunc("GET /admin/phones", loopback.AdminOnly(p.servePhones))
	mux.HandleFunc("GET /admin/phones/{persona}/code", loopback.AdminOnly(p.serveCode))
	return p.outageSwitch(p.hostCheck(mux))
}

func (p *Platform) hostCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admin := strings.HasPrefix(r.URL.Path, "/admin/")
		if (admin || !p.allowRemote) && !loopback.Host(r.Host) {
			p.log.Warn("request refused: host is not loopback", "path", r.URL.Path)
			writeJSON(w, http.StatusForbidden, p.doorAnswer(protocol.CodeBadRequest, "host "+r.Host+" is not a loopback host"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Platform) serveTx(w http.ResponseWriter, r *http.Request) {
	received := p.clock.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, protocol.MaxBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, p.doorAnswer(protocol.CodeBadRequest, "reading the body: "+err.Error()))
		return
	}
	if len(body) > protocol.MaxBody {
		writeJSON(w, http.StatusBadRequest, p.doorAnswer(protocol.CodeBadRequest, "body over the 1 MiB limit"))
		return
	}
	out := p.exchange(incoming{infno: protocol.PeekInfno(body), header: r.Header, body: body, received: received})
	switch {
	case out.gateway != nil:
		writeJSON(w, out.status, out.gateway)
	case out.file != nil:
		w.Header().Set("Content-Type", protocol.FileContentType)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out.file)
	default:
		writeJSON(w, out.status, out.resp)
	}
}

func (p *Platform) serveLedger(w http.ResponseWriter, r *http.Request) {
	l, err := p.Ledger(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (p *Platform) serveExpire(w http.ResponseWriter, r *http.Request) {
	if err := p.ExpireSessions(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"expired": true})
}

func (p *Platform) serveHealth(w http.ResponseWriter, r *http.Request) {
	if err := p.Health(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// maxAdminBody bounds an admin request's body: a few small fields.
const maxAdminBody = 4 << 10

// decodeAdmin strictly decodes an admin request's JSON body into v.
func decodeAdmin(r *http.Request, v any) error {
	return protocol.DecodeStrict(io.LimitReader(r.Body, maxAdminBody), v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the answer failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// statusOf maps the err_code of a refusal before the transaction to its
// HTTP status: 400 for a malformed request, 500 for a failure of the
// platform, 200 for everything the platform answered on the merits.
func statusOf(code string) int {
	switch code {
	case protocol.CodeBadRequest, protocol.CodeUnknownTx:
		return http.StatusBadRequest
	case protocol.CodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusOK
}
