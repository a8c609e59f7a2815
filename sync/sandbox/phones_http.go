package sandbox

import (
	"errors"
	"net/http"

	"github.com/seed-a859fada/medterm/sync/sandbox/qrterm"
)

// pngModule is the size of a module in the PNG codes, in pixels: a
// version 10 code (57 modules and the quiet zone) comes out about 400
// pixels square, as a phone screen shows it.
const pngModule = 6

func (p *Platform) servePhones(w http.ResponseWriter, r *http.Request) {
	list, err := p.Phones(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// serveCode makes the persona's next code and shows it as the format
// asks: text (the code itself), json (PhoneCode), png, or terminal (a QR
// code drawn with half blocks and ANSI colours).
func (p *Platform) serveCode(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	switch format {
	case "", "text", "json", "png", "terminal":
	default:
		http.Error(w, "format is text, json, png or terminal", http.StatusBadRequest)
		return
	}
	code, err := p.Code(r.Context(), r.PathValue("persona"))
	switch {
	case errors.Is(err, ErrUnknownPersona), errors.Is(err, ErrNoPhone):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var body []byte
	ctype := "text/plain; charset=utf-8"
	switch format {
	case "json":
		writeJSON(w, http.StatusOK, code)
		return
	case "png":
		body, err = qrterm.PNG(code.Text, pngModule)
		ctype = "image/png"
	case "terminal":
		var s string
		s, err = qrterm.Terminal(code.Text)
		body = []byte(s)
	default:
		body = []byte(code.Text + "\n")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}
