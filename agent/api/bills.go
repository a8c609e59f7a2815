package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
)

// HoldBody is the body of POST /v1/bills: a bill the HIS leaves for the
// patient to pay at the kiosk or the window. The idempotency key travels
// in the Idempotency-Key header.
type HoldBody struct {
	Identity agent.IdentityInput `json:"identity"` // cert_type 02, the ID number and the name
	Operator agent.Operator      `json:"operator"`
	Bill     agent.Bill          `json:"bill"`
}

// FindBody is the body of POST /v1/bills/find: the held bills of one
// patient, by ID number (kept out of the URL, where proxies log it).
type FindBody struct {
	Identity agent.IdentityInput `json:"identity"`
	State    string              `json:"state,omitempty"` // open (default), settled, cancelled, all
}

// SettleHeldBody is the body of POST /v1/bills/{id}/settle: who is paying
// (the scan, the card in the reader, or the ID number) and who operates.
type SettleHeldBody struct {
	Identity agent.IdentityInput `json:"identity"`
	Operator agent.Operator      `json:"operator"`
	Mode     string              `json:"mode,omitempty"`
}

// CancelBody is the body of POST /v1/bills/{id}/cancel.
type CancelBody struct {
	Operator agent.Operator `json:"operator"`
}

// HeldView is a held bill as the API shows it (the patient masked).
type HeldView struct {
	ID             string     `json:"id"`
	IdempotencyKey string     `json:"idempotency_key"`
	State          string     `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Patient        string     `json:"patient"`
	Bill           agent.Bill `json:"bill"`
	Total          money.Fen  `json:"total_fen"`
	Settlement     string     `json:"settlement_id,omitempty"`
	Created        bool       `json:"created,omitempty"`
}

func heldView(h *agent.HeldBill) HeldView {
	return HeldView{ID: h.ID, IdempotencyKey: h.IdempotencyKey, State: h.State, CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
		Patient: h.Patient, Bill: h.Bill, Total: h.Total, Settlement: h.Settlement}
}

// HeldList is the answer of GET /v1/bills and POST /v1/bills/find.
type HeldList struct {
	Bills []HeldView `json:"bills"`
}

// SettledHeld is the answer of POST /v1/bills/{id}/settle.
type SettledHeld struct {
	Bill       HeldView       `json:"bill"`
	Settlement SettlementView `json:"settlement"`
}

func (s *Server) holdBill(w http.ResponseWriter, r *http.Request) {
	key, ok := idempotencyKey(w, r)
	if !ok {
		return
	}
	var body HoldBody
	if !decodeBody(w, r, &body) {
		return
	}
	h, created, err := s.cfg.Service.Hold(r.Context(), agent.HoldRequest{IdempotencyKey: key, Identity: body.Identity, Operator: body.Operator, Bill: body.Bill})
	if err != nil {
		writeErr(w, err)
		return
	}
	v := heldView(h)
	v.Created = created
	writeSubmitted(w, created, "/v1/bills/"+h.ID, v)
}

// heldStates reads a state filter: open by default, all for every one.
func heldStates(v string) ([]string, bool) {
	switch v {
	case "", agent.HeldOpen:
		return []string{agent.HeldOpen}, true
	case "all":
		return nil, true
	case agent.HeldSettled, agent.HeldCancelled:
		return []string{v}, true
	}
	return nil, false
}

func (s *Server) listBills(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	states, ok := heldStates(q.Get("state"))
	if !ok {
		writeError(w, http.StatusBadRequest, codeInvalid, "state must be open, settled, cancelled or all")
		return
	}
	var id *agent.IdentityInput
	if scan, reader := q.Get("scan"), q.Get("card_reader"); scan != "" || reader != "" {
		id = &agent.IdentityInput{Scan: scan, CardReader: reader}
		if err := id.ValidateSource(); err != nil {
			writeErr(w, err)
			return
		}
	}
	s.answerBills(w, r, id, states)
}

func (s *Server) findBills(w http.ResponseWriter, r *http.Request) {
	var body FindBody
	if !decodeBody(w, r, &body) {
		return
	}
	states, ok := heldStates(body.State)
	if !ok {
		writeError(w, http.StatusBadRequest, codeInvalid, "state must be open, settled, cancelled or all")
		return
	}
	if err := body.Identity.ValidateSource(); err != nil {
		writeErr(w, err)
		return
	}
	s.answerBills(w, r, &body.Identity, states)
}

func (s *Server) answerBills(w http.ResponseWriter, r *http.Request, id *agent.IdentityInput, states []string) {
	list, err := s.cfg.Service.HeldBills(r.Context(), id, states...)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := HeldList{Bills: make([]HeldView, 0, len(list))}
	for _, h := range list {
		out.Bills = append(out.Bills, heldView(h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getBill(w http.ResponseWriter, r *http.Request) {
	h, err := s.cfg.Service.HeldBill(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, heldView(h))
}

func (s *Server) cancelBill(w http.ResponseWriter, r *http.Request) {
	var body CancelBody
	if !decodeBody(w, r, &body) {
		return
	}
	if err := body.Operator.Validate(); err != nil {
		writeErr(w, err)
		return
	}
	h, err := s.cfg.Service.CancelHeld(r.Context(), r.PathValue("id"), body.Operator)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, heldView(h))
}

func (s *Server) settleBill(w http.ResponseWriter, r *http.Request) {
	var body SettleHeldBody
	if !decodeBody(w, r, &body) {
		return
	}
	if err := body.Identity.ValidateSource(); err != nil {
		writeErr(w, err)
		return
	}
	if strings.TrimSpace(body.Operator.ID) == "" {
		writeError(w, http.StatusBadRequest, codeInvalid, "operator.id is required: the cashier, or the kiosk's terminal id")
		return
	}
	st, h, err := s.cfg.Service.SettleHeld(r.Context(), r.PathValue("id"), body.Identity, body.Operator, body.Mode)
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Location", "/v1/settlements/"+st.ID)
	writeJSON(w, http.StatusOK, SettledHeld{Bill: heldView(h), Settlement: View(st, false, false)})
}
