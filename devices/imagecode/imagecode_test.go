package imagecode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Texts of the kinds a kiosk meets: a payment-style numeric code, an
// opaque credential, and a long alphanumeric one near the size our signed
// codes may reach (QR version 10 at level M).
const (
	numericCode = "281234567890123456"
	opaqueCode  = "https://card.wecity.qq.com/hsa?code=GZ01_7f3a9c0b2e4d4e1f9a8b7c6d5e4f3a2b"
	longCode    = "HC1:6BFOXN*TS0BI$ZD8UHYKMJ1VFH:O9I:K6+L5MF/PQ2RZKRV/KT:NQ.E*4UPS1U$8YIJ/%2KXQ%L4PNJ8OSPNNX:G0%O7-JT2OL5QCM4V/43A45CN-9QPG48$VWG1OOA21TE.6CG4AS9TXU3CLTKJC*A8RAUJB0%AU50L/T.-SFOOQ+G-*I6R6O7S3A1K.EEW4M-5+DKR7W.0MJ.N/8SPCRYUPNIMQ/G2A0$D9CBL"
)

func decoder(t testing.TB) *Decoder {
	t.Helper()
	d, err := New(DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecodeReadsCodesFromOtherEncoders(t *testing.T) {
	cases := []struct {
		name string
		text string
		file func(t *testing.T, text string) []byte
	}{
		{"qrencode's own PNG", opaqueCode, func(t *testing.T, s string) []byte { return qrencode(t, s) }},
		{"numeric, qrencode's own PNG", numericCode, func(t *testing.T, s string) []byte { return qrencode(t, s, "-s", "2") }},
		{"long code, version 10", longCode, func(t *testing.T, s string) []byte { return qrencode(t, s, "-s", "3", "-l", "M") }},
		{"rotated 90°", opaqueCode, func(t *testing.T, s string) []byte { return encodePNG(t, rotate90(qrImage(t, s, 4))) }},
		{"rotated 270°", opaqueCode, func(t *testing.T, s string) []byte {
			return encodePNG(t, rotate90(rotate90(rotate90(qrImage(t, s, 4)))))
		}},
		{"rotated 10°", opaqueCode, func(t *testing.T, s string) []byte { return encodePNG(t, rotate(qrImage(t, s, 4), 10)) }},
		{"rotated -15°", longCode, func(t *testing.T, s string) []byte { return encodePNG(t, rotate(qrImage(t, s, 5), -15)) }},
		{"scaled small (2.2 px modules)", opaqueCode, func(t *testing.T, s string) []byte { return encodePNG(t, scale(qrImage(t, s, 1), 2.2)) }},
		{"scaled large (1,000 px wide)", opaqueCode, func(t *testing.T, s string) []byte { return encodePNG(t, scale(qrImage(t, s, 4), 6.5)) }},
		{"random pixel noise", opaqueCode, func(t *testing.T, s string) []byte { return encodePNG(t, noisy(qrImage(t, s, 4), 70, 0.04, 7)) }},
		{"blurred", longCode, func(t *testing.T, s string) []byte { return encodePNG(t, blur(qrImage(t, s, 5), 1, 2)) }},
		{"noisy and blurred, turned 12°", opaqueCode, func(t *testing.T, s string) []byte {
			return encodePNG(t, noisy(blur(rotate(qrImage(t, s, 5), 12), 1, 1), 40, 0.01, 8))
		}},
		{"in a 640×480 frame", opaqueCode, func(t *testing.T, s string) []byte {
			return encodePNG(t, frame(qrImage(t, s, 3), 640, 480, 300, 150, 1))
		}},
		{"in a 1280×720 frame", longCode, func(t *testing.T, s string) []byte {
			return encodePNG(t, frame(qrImage(t, s, 5), 1280, 720, 620, 130, 2))
		}},
		{"turned 15° in a 1280×720 frame", opaqueCode, func(t *testing.T, s string) []byte {
			return encodePNG(t, frame(rotate(qrImage(t, s, 4), 15), 1280, 720, 500, 200, 3))
		}},
		{"noisy 1280×720 frame, JPEG", opaqueCode, func(t *testing.T, s string) []byte {
			return encodeJPEG(t, noisy(frame(qrImage(t, s, 5), 1280, 720, 80, 300, 4), 25, 0.005, 9), 75)
		}},
		{"640×480 frame, JPEG", numericCode, func(t *testing.T, s string) []byte {
			return encodeJPEG(t, frame(qrImage(t, s, 6), 640, 480, 40, 40, 5), 85)
		}},
	}
	d := decoder(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Decode(bytes.NewReader(tc.file(t, tc.text)))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tc.text {
				t.Fatalf("Decode = %q, want %q", got, tc.text)
			}
		})
	}
}

func TestDecodeImageTakesEveryPixelLayout(t *testing.T) {
	code := qrImage(t, opaqueCode, 4)
	layouts := map[string]draw.Image{
		"Gray":   image.NewGray(code.Rect),
		"Gray16": image.NewGray16(code.Rect),
		"RGBA":   image.NewRGBA(code.Rect),
		"NRGBA":  image.NewNRGBA(code.Rect),
		"RGBA64": image.NewRGBA64(code.Rect),
	}
	d := decoder(t)
	for name, img := range layouts {
		t.Run(name, func(t *testing.T) {
			draw.Draw(img, img.Bounds(), code, image.Point{}, draw.Src)
			if got, err := d.DecodeImage(img); err != nil || got != opaqueCode {
				t.Fatalf("DecodeImage = %q, %v", got, err)
			}
		})
	}
	t.Run("sub-image of a frame", func(t *testing.T) {
		f := frame(code, 640, 480, 100, 100, 6)
		sub := f.SubImage(image.Rect(80, 80, 80+code.Rect.Dx()+40, 80+code.Rect.Dy()+40))
		if got, err := d.DecodeImage(sub); err != nil || got != opaqueCode {
			t.Fatalf("DecodeImage = %q, %v", got, err)
		}
	})
	t.Run("YCbCr sub-image", func(t *testing.T) {
		img, err := jpeg.Decode(bytes.NewReader(encodeJPEG(t, frame(code, 640, 480, 200, 150, 7), 90)))
		if err != nil {
			t.Fatal(err)
		}
		sub := img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(150, 100, 450, 400))
		if got, err := d.DecodeImage(sub); err != nil || got != opaqueCode {
			t.Fatalf("DecodeImage = %q, %v", got, err)
		}
	})
}

func TestDecodeSaysNoCodeAfterOneQuickPass(t *testing.T) {
	cases := []struct {
		name     string
		w, h     int
		passSide int // the quick pass's width
	}{
		{"640×480 frame, full size", 640, 480, 640},
		{"1280×720 frame, at half size", 1280, 720, 640},
		{"1920×1080 frame, at half size", 1920, 1080, 960},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := decoder(t)
			var passes []int
			d.onPass = func(w, h int, thorough bool) { passes = append(passes, w) }
			_, err := d.Decode(bytes.NewReader(encodePNG(t, background(tc.w, tc.h, 11))))
			if !errors.Is(err, ErrNoCode) {
				t.Fatalf("Decode = %v, want ErrNoCode", err)
			}
			if len(passes) != 1 || passes[0] != tc.passSide {
				t.Fatalf("passes of widths %v, want one of %d", passes, tc.passSide)
			}
		})
	}
}

func TestDecodeLooksHarderOnlyWhenSomethingIsThere(t *testing.T) {
	// A code turned 15° with 4 px modules: at half size its finder
	// patterns show but it does not decode; at full size it does.
	d := decoder(t)
	var passes []int
	d.onPass = func(w, h int, thorough bool) { passes = append(passes, w) }
	img := frame(rotate(qrImage(t, opaqueCode, 4), 15), 1280, 720, 500, 200, 3)
	if got, err := d.DecodeImage(img); err != nil || got != opaqueCode {
		t.Fatalf("DecodeImage = %q, %v", got, err)
	}
	if len(passes) != 2 || passes[0] != 640 || passes[1] != 1280 {
		t.Fatalf("passes of widths %v, want half then full size", passes)
	}
}

func TestDecodeRejectsWhatIsNotAReadableCode(t *testing.T) {
	code := qrencode(t, opaqueCode, "-s", "4")
	corrupt := bytes.Clone(code)
	copy(corrupt[len(corrupt)/2:], bytes.Repeat([]byte{0xAA}, 40))
	truncated := code[:len(code)*2/3]
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, qrImage(t, opaqueCode, 4), nil); err != nil {
		t.Fatal(err)
	}
	half := qrImage(t, opaqueCode, 4)
	cut := half.SubImage(image.Rect(0, 0, half.Rect.Dx()*11/20, half.Rect.Dy()))

	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"text", []byte("HQR0001"), ErrFormat},
		{"GIF", gifData.Bytes(), ErrFormat},
		{"PNG signature only", pngMagic, ErrCorrupt},
		{"PNG with a damaged middle", corrupt, ErrCorrupt},
		{"PNG cut short", truncated, ErrCorrupt},
		{"JPEG cut short", encodeJPEG(t, half, 90)[:300], ErrCorrupt},
		{"PNG claiming 50,000 × 50,000 pixels", pngHeader(50_000, 50_000), ErrTooLarge},
		{"PNG claiming 4,000 × 4,000 pixels", pngHeader(4000, 4000), ErrTooLarge},
		{"PNG claiming 9,000 × 10 pixels", pngHeader(9000, 10), ErrTooLarge},
		{"PNG claiming 0 × 10 pixels", pngHeader(0, 10), ErrCorrupt},
		{"more than 8 MiB", append(bytes.Clone(pngMagic), make([]byte, 8<<20)...), ErrTooLarge},
		{"blank white page", encodePNG(t, whitePage(640, 480)), ErrNoCode},
		{"frame without a code", encodePNG(t, background(640, 480, 12)), ErrNoCode},
		{"half a code", encodePNG(t, cut), ErrUnreadable},
	}
	d := decoder(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Decode(bytes.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %q, %v; want %v", got, err, tc.want)
			}
			if got != "" {
				t.Fatalf("Decode returned text %q with its error", got)
			}
		})
	}
}

func whitePage(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	return g
}

// pngHeader is the start of a PNG file that claims w × h pixels: what a
// decompression bomb looks like before its pixels.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit gray
	chunk := append([]byte("IHDR"), ihdr...)
	out := bytes.Clone(pngMagic)
	out = binary.BigEndian.AppendUint32(out, uint32(len(ihdr)))
	out = append(out, chunk...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
	return out
}

func TestDecodeImageChecksThePixelBounds(t *testing.T) {
	d, err := New(Limits{MaxBytes: 1 << 20, MaxPixels: 100 * 100, MaxSide: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []image.Rectangle{image.Rect(0, 0, 101, 100), image.Rect(0, 0, 201, 10)} {
		if _, err := d.DecodeImage(image.NewGray(r)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%v: err = %v, want ErrTooLarge", r, err)
		}
	}
}

func TestDecodePassesOnTheReadersError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := decoder(t).Decode(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the reader's", err)
	}
	_, err = decoder(t).Decode(io.MultiReader(bytes.NewReader(pngMagic), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the reader's", err)
	}
}

func TestLimitsValidateNamesTheField(t *testing.T) {
	ok := DefaultLimits()
	cases := []struct {
		field string
		mut   func(*Limits)
	}{
		{"max_bytes", func(l *Limits) { l.MaxBytes = 0 }},
		{"max_bytes", func(l *Limits) { l.MaxBytes = 1 << 62 }},
		{"max_pixels", func(l *Limits) { l.MaxPixels = -1 }},
		{"max_pixels", func(l *Limits) { l.MaxPixels = 1 << 40 }},
		{"max_side", func(l *Limits) { l.MaxSide = 0 }},
		{"max_side", func(l *Limits) { l.MaxSide = 1 << 20 }},
	}
	for _, tc := range cases {
		l := ok
		tc.mut(&l)
		_, err := New(l)
		if !errors.Is(err, ErrInvalidLimits) || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%+v: err = %v, want ErrInvalidLimits naming %s", l, err, tc.field)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("default limits: %v", err)
	}
}

func TestDecoderFailureIsThePicturesNotTheProcess(t *testing.T) {
	// A plane shorter than its claimed size makes gozxing index out of
	// range: the pass fails, nothing panics.
	text, _, err := decodeQR(gray{pix: make([]byte, 10), w: 64, h: 64}, true)
	if err == nil || text != "" || !strings.Contains(err.Error(), "decoder failed") {
		t.Fatalf("decodeQR = %q, %v; want a decoder failure", text, err)
	}
}
