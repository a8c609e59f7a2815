package api

import (
	"net/http"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/agent/money"
)

// The patient's password-free agreement, signed at the window (the
// cashier confirms) or at the kiosk (the patient alone): shown, signed,
// its limits lowered, cancelled. The patient is named by identity: the
// card in a reader, the code just scanned, or the ID number.

// AgreementFindBody is the body of POST /v1/agreements/find and
// /v1/agreements/cancel.
type AgreementFindBody struct {
	Identity agent.IdentityInput `json:"identity"`
	Operator agent.Operator      `json:"operator,omitzero"`
}

// SignBody is the body of POST /v1/agreements.
type SignBody struct {
	Identity agent.IdentityInput `json:"identity"`
	// Source: card_account (the card in the reader's own financial
	// account) or bank_card (CardNo).
	Source       string         `json:"source"`
	CardNo       string         `json:"card_no,omitempty"`
	AccountFirst bool           `json:"account_first,omitempty"`
	Operator     agent.Operator `json:"operator"`
}

// LimitsBody is the body of POST /v1/agreements/limits: the patient's own
// limits, lower than the rollout's; zero keeps one as it is.
type LimitsBody struct {
	Identity   agent.IdentityInput `json:"identity"`
	PerPayment money.Fen           `json:"per_payment_fen"`
	Daily      money.Fen           `json:"daily_fen"`
	Operator   agent.Operator      `json:"operator"`
}

func (s *Server) findAgreement(w http.ResponseWriter, r *http.Request) {
	var body AgreementFindBody
	if !decodeBody(w, r, &body) || !validSource(w, body.Identity) {
		return
	}
	a, err := s.cfg.Service.PatientAgreement(r.Context(), body.Identity)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) signAgreement(w http.ResponseWriter, r *http.Request) {
	var body SignBody
	if !decodeBody(w, r, &body) || !validSource(w, body.Identity) {
		return
	}
	a, err := s.cfg.Service.Sign(r.Context(), agent.SignUp{Identity: body.Identity, Kind: body.Source, CardNo: body.CardNo,
		AccountFirst: body.AccountFirst, Operator: body.Operator})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) agreementLimits(w http.ResponseWriter, r *http.Request) {
	var body LimitsBody
	if !decodeBody(w, r, &body) || !validSource(w, body.Identity) {
		return
	}
	a, err := s.cfg.Service.LowerLimits(r.Context(), body.Identity, body.PerPayment, body.Daily, body.Operator)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) cancelAgreement(w http.ResponseWriter, r *http.Request) {
	var body AgreementFindBody
	if !decodeBody(w, r, &body) || !validSource(w, body.Identity) {
		return
	}
	if err := s.cfg.Service.EndAgreement(r.Context(), body.Identity, body.Operator); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"cancelled": true})
}

func validSource(w http.ResponseWriter, id agent.IdentityInput) bool {
	if err := id.ValidateSource(); err != nil {
		writeErr(w, err)
		return false
	}
	return true
}
