package api

import (
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/devices/imagecode"
)

// MaxImage bounds an uploaded camera frame or screenshot.
const MaxImage = 8 << 20

func (s *Server) getScan(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Kiosk == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "this terminal reads no codes")
		return
	}
	sc, err := s.cfg.Kiosk.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// scanImage decodes the QR code in a PNG or JPEG (a kiosk camera frame, a
// screenshot) and handles it as a scan.
func (s *Server) scanImage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Kiosk == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "this terminal reads no codes")
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "image/png" && mt != "image/jpeg" {
		writeError(w, http.StatusUnsupportedMediaType, codeMediaType, "Content-Type must be image/png or image/jpeg")
		return
	}
	dec, err := imagecode.New(imagecode.Limits{MaxBytes: MaxImage, MaxPixels: 12_000_000, MaxSide: 8192})
	if err != nil {
		writeErr(w, err)
		return
	}
	text, err := dec.Decode(http.MaxBytesReader(w, r.Body, MaxImage))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig), errors.Is(err, imagecode.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "the image is too large: "+err.Error())
		return
	case errors.Is(err, imagecode.ErrNoCode):
		writeError(w, http.StatusUnprocessableEntity, codeNoCode, "no QR code in this image")
		return
	case err != nil:
		writeError(w, http.StatusUnprocessableEntity, codeUnreadableImage, err.Error())
		return
	}
	sc, err := s.cfg.Kiosk.Handle(r.Context(), agent.ScannedCode{Text: text, At: time.Now(), Source: imagecode.Source})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}
