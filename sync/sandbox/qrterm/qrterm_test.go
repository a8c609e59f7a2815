package qrterm_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/seed-a859fada/medterm/devices/credential"
	"github.com/seed-a859fada/medterm/devices/imagecode"
	"github.com/seed-a859fada/medterm/sync/sandbox/qrterm"
)

// signedCode is a real code of the credential format, of alg.
func signedCode(t *testing.T, alg credential.Algorithm) string {
	t.Helper()
	issuerKey, err := credential.GenerateKey(alg, nil)
	if err != nil {
		t.Fatal(err)
	}
	phoneKey, err := credential.GenerateKey(alg, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	is := credential.Issuer{KeyID: 3, Key: issuerKey}
	cert, err := is.Issue(credential.Certificate{Serial: 42, Region: "441900", NotBefore: credential.DayOf(now), NotAfter: credential.DayOf(now) + 365}, phoneKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	ph, err := credential.NewPhone(cert, phoneKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	text, err := ph.Next(now)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// decode reads a QR code from a picture as a kiosk camera would.
// decode reads the picture as a kiosk does (devices/imagecode: gozxing
// with its harder passes; a plain single pass misreads the version of
// some dense codes now and then).
func decode(t *testing.T, img image.Image) string {
	t.Helper()
	dec, err := imagecode.New(imagecode.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	text, err := dec.DecodeImage(img)
	if err != nil {
		t.Fatalf("the picture does not decode: %v", err)
	}
	return text
}

// fromTerminal turns a terminal drawing back into a picture: each
// character is two modules, each module 4×4 pixels.
func fromTerminal(t *testing.T, drawing string) (image.Image, [][]bool) {
	t.Helper()
	var rows [][]bool
	for _, line := range strings.Split(strings.TrimSuffix(drawing, "\n"), "\n") {
		if !strings.HasPrefix(line, "\x1b[30;107m") || !strings.HasSuffix(line, "\x1b[0m") {
			t.Fatalf("line without its colours: %q", line)
		}
		line = strings.TrimSuffix(strings.TrimPrefix(line, "\x1b[30;107m"), "\x1b[0m")
		var upper, lower []bool
		for _, r := range line {
			switch r {
			case '█':
				upper, lower = append(upper, true), append(lower, true)
			case '▀':
				upper, lower = append(upper, true), append(lower, false)
			case '▄':
				upper, lower = append(upper, false), append(lower, true)
			case ' ':
				upper, lower = append(upper, false), append(lower, false)
			default:
				t.Fatalf("unexpected character %q", r)
			}
		}
		rows = append(rows, upper, lower)
	}
	const px = 4
	img := image.NewGray(image.Rect(0, 0, len(rows[0])*px, len(rows)*px))
	for y, row := range rows {
		for x, dark := range row {
			c := color.Gray{Y: 255}
			if dark {
				c = color.Gray{Y: 0}
			}
			for dy := range px {
				for dx := range px {
					img.SetGray(x*px+dx, y*px+dy, c)
				}
			}
		}
	}
	return img, rows
}

func TestTerminalDrawingScansAsTheCode(t *testing.T) {
	for _, text := range []string{signedCode(t, credential.Ed25519), signedCode(t, credential.SM2SM3), "EC0123456789ABCDEF0123456789ABCDEF01234567"} {
		drawing, err := qrterm.Terminal(text)
		if err != nil {
			t.Fatal(err)
		}
		img, rows := fromTerminal(t, drawing)
		q, _ := qrterm.Encode(text)
		want := q.Bitmap()
		// The last line's lower half is below the code: light.
		if len(rows) != len(want)+1 {
			t.Fatalf("%d module rows drawn, the code has %d", len(rows), len(want))
		}
		for y := range want {
			for x := range want[y] {
				if rows[y][x] != want[y][x] {
					t.Fatalf("module (%d,%d) drawn %v, is %v", x, y, rows[y][x], want[y][x])
				}
			}
		}
		if got := decode(t, img); got != text {
			t.Fatalf("the drawing scans as %q, want %q", got, text)
		}
	}
}

func TestPNGScansAsTheCodeWithinVersion10(t *testing.T) {
	for _, alg := range []credential.Algorithm{credential.Ed25519, credential.SM2SM3} {
		text := signedCode(t, alg)
		b, err := qrterm.PNG(text, 4)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := decode(t, img); got != text {
			t.Fatalf("%s: the PNG scans as %q", alg, got)
		}
		q, _ := qrterm.Encode(text)
		if q.VersionNumber > 10 {
			t.Errorf("%s code of %d characters needs QR version %d; the budget is 10 at level M", alg, len(text), q.VersionNumber)
		}
	}
	if _, err := qrterm.PNG("", 4); err == nil {
		t.Error("an empty text encoded")
	}
}
