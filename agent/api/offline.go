package api

import (
	"net/http"
	"time"

	"github.com/seed-a859fada/medterm/agent"
)

// VoidBody is the body of POST /v1/settlements/{id}/void.
type VoidBody struct {
	Operator agent.Operator `json:"operator"`
	Reason   string         `json:"reason"`
}

func (s *Server) void(w http.ResponseWriter, r *http.Request) {
	var body VoidBody
	if !decodeBody(w, r, &body) {
		return
	}
	if err := agent.ValidateReason(body.Reason); err != nil {
		writeErr(w, err)
		return
	}
	st, err := s.cfg.Service.Void(r.Context(), r.PathValue("id"), body.Operator, body.Reason)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, View(st, false, false))
}

// SyncBody is the answer of POST /v1/sync: the backlog when the drain
// started. Progress is read from GET /v1/status.
type SyncBody struct {
	Backlog agent.Backlog `json:"backlog"`
}

func (s *Server) syncNow(w http.ResponseWriter, r *http.Request) {
	b, err := s.cfg.Service.Backlog(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	if s.cfg.Drain != nil {
		s.cfg.Drain()
	}
	writeJSON(w, http.StatusAccepted, SyncBody{Backlog: b})
}

// ReconcileBody is the body of POST /v1/reconcile.
type ReconcileBody struct {
	Date string `json:"date"` // yyyy-MM-dd; empty: today (China time)
}

func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	var body ReconcileBody
	if r.ContentLength != 0 && !decodeBody(w, r, &body) {
		return
	}
	day := time.Now()
	if body.Date != "" {
		d, err := time.ParseInLocation(time.DateOnly, body.Date, agent.CST)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeInvalid, "date must be yyyy-MM-dd")
			return
		}
		day = d
	}
	rep, err := s.cfg.Service.Reconcile(r.Context(), day)
	if err != nil {
		writeError(w, http.StatusBadGateway, codeReconcile, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) lastReconcile(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Service.LastReport(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
