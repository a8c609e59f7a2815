package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/mask"
)

// SettleBody is the body of POST /v1/settlements. The idempotency key
// travels in the Idempotency-Key header.
type SettleBody struct {
	Identity agent.IdentityInput `json:"identity"`
	Operator agent.Operator      `json:"operator"`
	Bill     agent.Bill          `json:"bill"`
	// Mode: prefer_online (default), require_online, force_offline.
	Mode string `json:"mode,omitempty"`
}

// RefundBody is the body of POST /v1/settlements/{id}/refund.
type RefundBody struct {
	Operator agent.Operator `json:"operator"`
	Reason   string         `json:"reason"`
}

// SettlementView is a settlement as the API shows it: personal data masked
// unless the caller asked with ?reveal=true.
type SettlementView struct {
	ID        string               `json:"id"`
	State     agent.State          `json:"state"`
	Created   bool                 `json:"created,omitempty"` // this call created it
	CreatedAt time.Time            `json:"created_at"`
	UpdatedAt time.Time            `json:"updated_at"`
	CertType  string               `json:"cert_type"`
	Patient   PatientView          `json:"patient"`
	Operator  agent.Operator       `json:"operator"`
	Bill      agent.Bill           `json:"bill"`
	SetlID    string               `json:"setl_id,omitempty"`
	Lines     []agent.LineResult   `json:"lines,omitempty"`
	Split     agent.InsuranceSplit `json:"split"`
	// Pay is the patient's own part and what became of it (its orders to
	// the payment channel only in the detail).
	Pay    agent.PaymentLeg  `json:"pay"`
	Refund *agent.Refund     `json:"refund,omitempty"`
	Error  *agent.Failure    `json:"error,omitempty"`
	Msgids map[string]string `json:"msgids,omitempty"`
	Events []agent.Event     `json:"events,omitempty"`
}

// PatientView is the patient on a settlement.
type PatientView struct {
	Name   string `json:"name,omitempty"`
	IDNo   string `json:"id_no,omitempty"`
	CertNo string `json:"cert_no,omitempty"`
	Masked bool   `json:"masked"`
}

// View converts a settlement for output, masking personal data unless
// reveal is set; detail adds msgids and the event history.
func View(s *agent.Settlement, reveal, detail bool) SettlementView {
	v := SettlementView{
		ID: s.ID, State: s.State, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, CertType: s.CertType,
		Operator: s.Operator, Bill: s.Bill, SetlID: s.SetlID, Lines: s.Lines, Split: s.Split, Pay: s.Pay,
		Refund: s.Refund, Error: s.Error,
	}
	if !detail {
		v.Pay.Orders = nil
	}
	p := s.Personal
	if reveal {
		v.Patient = PatientView{Name: p.Name, IDNo: p.IDNo, CertNo: p.CertNo}
	} else {
		v.Patient = PatientView{Name: mask.Name(p.Name), IDNo: mask.IDNo(p.IDNo), CertNo: mask.Card(p.CertNo), Masked: true}
	}
	if detail {
		v.Msgids, v.Events = s.Msgids, s.Events
	}
	return v
}

// idempotencyKey is the HIS's own id for what it submits; it answers the
// request itself when the header is missing.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeError(w, http.StatusBadRequest, codeInvalid, "the Idempotency-Key header is required: the HIS's own id for this bill")
	}
	return key, key != ""
}

// writeSubmitted answers a submission: 201 when this call created it, 200
// for the same key again, its Location either way.
func writeSubmitted(w http.ResponseWriter, created bool, location string, v any) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", location)
	writeJSON(w, status, v)
}

func (s *Server) createSettlement(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var body SettleBody
	if !decodeBody(w, r, &body) {
		return
	}
	// The service reads a card_reader or scan before it has an identity to
	// validate; bound them here, where the body is read.
	if err := body.Identity.ValidateSource(); err != nil {
		writeErr(w, err)
		return
	}
	st, created, err := s.cfg.Service.Settle(r.Context(), agent.SettleRequest{
		IdempotencyKey: key, Identity: body.Identity, Operator: body.Operator, Bill: body.Bill, Mode: body.Mode,
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	v := View(st, false, false)
	v.Created = created
	writeSubmitted(w, created, "/v1/settlements/"+st.ID, v)
}

func (s *Server) getSettlement(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Service.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, View(st, r.URL.Query().Get("reveal") == "true", true))
}

// ListBody is the answer of GET /v1/settlements.
type ListBody struct {
	Settlements []SettlementView `json:"settlements"`
}

func (s *Server) listSettlements(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := agent.ListFilter{Limit: 100}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, codeInvalid, "limit must be 1 to 10000")
			return
		}
		f.Limit = n
	}
	if st := q.Get("state"); st != "" {
		for _, v := range strings.Split(st, ",") {
			f.States = append(f.States, agent.State(v))
		}
	}
	list, err := s.cfg.Service.List(r.Context(), f)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := ListBody{Settlements: make([]SettlementView, 0, len(list))}
	reveal := q.Get("reveal") == "true"
	for _, st := range list {
		out.Settlements = append(out.Settlements, View(st, reveal, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getReceipt(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Service.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	rc, err := s.cfg.Service.Receipt(st)
	if err != nil {
		writeErr(w, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(rc.Text()))
		return
	case "qr":
		// The settlement id as a QR code, for the printed receipt and the
		// kiosk screen: the patient's phone or the window scans it back.
		png, err := qrcode.Encode(rc.ID, qrcode.Medium, 256)
		if err != nil {
			writeErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
		return
	}
	writeJSON(w, http.StatusOK, rc)
}

// printReceipt prints the receipt on this terminal's printer: the kiosk's
// own, or the window's.
func (s *Server) printReceipt(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Print == nil {
		writeError(w, http.StatusNotFound, codeNoPrinter, "this terminal has no receipt printer ([receipt] printer)")
		return
	}
	st, err := s.cfg.Service.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	rc, err := s.cfg.Service.Receipt(st)
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := s.cfg.Print(context.WithoutCancel(r.Context()), rc.Text()); err != nil {
		s.log.Warn("receipt not printed", "settlement", st.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, codePrintFailed, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"printed": true})
}

// ConfirmBody is the body of POST /v1/settlements/{id}/confirm: the
// patient confirmed, at the kiosk, a part that needs it.
type ConfirmBody struct {
	Operator agent.Operator `json:"operator"`
}

// CollectBody is the body of POST /v1/settlements/{id}/collect: the
// patient's part paid at the window by another channel.
type CollectBody struct {
	Operator  agent.Operator `json:"operator"`
	Channel   string         `json:"channel"`             // cash, wechat, alipay, card
	Reference string         `json:"reference,omitempty"` // the channel's transaction number
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	var body ConfirmBody
	if !decodeBody(w, r, &body) {
		return
	}
	st, err := s.cfg.Service.ConfirmPayment(r.Context(), r.PathValue("id"), body.Operator)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, View(st, false, false))
}

func (s *Server) collect(w http.ResponseWriter, r *http.Request) {
	var body CollectBody
	if !decodeBody(w, r, &body) {
		return
	}
	st, err := s.cfg.Service.Collect(r.Context(), agent.CollectRequest{ID: r.PathValue("id"), Channel: body.Channel, Reference: body.Reference, Operator: body.Operator})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, View(st, false, false))
}

func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	var body RefundBody
	if !decodeBody(w, r, &body) {
		return
	}
	if err := agent.ValidateReason(body.Reason); err != nil {
		writeErr(w, err)
		return
	}
	st, err := s.cfg.Service.Refund(r.Context(), agent.RefundRequest{ID: r.PathValue("id"), Operator: body.Operator, Reason: body.Reason})
	if err != nil && st != nil && st.State == agent.StateRefunding {
		// Sent but not answered: the refund stays on record and asking
		// again resends it under the same msgid.
		writeJSON(w, http.StatusAccepted, View(st, false, false))
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, View(st, false, false))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var v any = map[string]any{"version": s.cfg.Version}
	if s.cfg.Status != nil {
		v = s.cfg.Status(r.Context())
	}
	writeJSON(w, http.StatusOK, v)
}
