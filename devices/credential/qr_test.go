package credential_test

import (
	"bytes"
	"image/png"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/imagecode"
)

// Every code fits QR version 10 at level M in alphanumeric mode: the
// budget that every kiosk scanner and phone screen handles.
func TestCodeFitsQRVersion10LevelM(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			text := newFixture(t, alg).code(0, 1<<32-1)
			if len(text) != credential.TextSize(alg) || len(text) > credential.MaxTextLen {
				t.Fatalf("code of %d characters, want %d and at most %d", len(text), credential.TextSize(alg), credential.MaxTextLen)
			}
			q, err := qrcode.New(text, qrcode.Medium)
			if err != nil {
				t.Fatal(err)
			}
			if q.VersionNumber > 10 {
				t.Fatalf("go-qrcode chose version %d at level M, want at most 10", q.VersionNumber)
			}
			if _, err := qrcode.NewWithForcedVersion(text, 10, qrcode.Medium); err != nil {
				t.Fatalf("does not fit version 10 at level M: %v", err)
			}
		})
	}
}

// The code survives a real round trip: drawn as a PNG by go-qrcode, read
// back by gozxing (the kiosk camera's decoder), and verified.
func TestCodeSurvivesAQRRoundTrip(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg.String(), func(t *testing.T) {
			f := newFixture(t, alg)
			text := f.code(0, 1)
			img, err := qrcode.Encode(text, qrcode.Medium, 400)
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := png.Decode(bytes.NewReader(img))
			if err != nil {
				t.Fatal(err)
			}
			// The kiosk's decoder: plain gozxing misreads a few percent of
			// dense random codes at one orientation (its last pass does not).
			dec, err := imagecode.New(imagecode.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			got, err := dec.DecodeImage(decoded)
			if err != nil {
				t.Fatalf("the kiosk's decoder cannot read the code: %v", err)
			}
			if got != text {
				t.Fatalf("read %q, want %q", got, text)
			}
			mustVerify(f, got)
		})
	}
}
