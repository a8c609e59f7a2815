// Package imagecode finds and decodes the QR code in a picture: a frame
// from a kiosk's camera, or a screenshot a patient uploads. It reads PNG
// and JPEG within size bounds set by the caller, and decodes with
// github.com/makiuchi-d/gozxing. A frame without a code, the usual case
// for a camera watching an empty counter, is answered with ErrNoCode after
// one pass over a reduced copy of the picture, so that a kiosk can look at
// every frame.
//
// The decoded text is returned as it is: what it means is the credential
// package's business.
package imagecode

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Limits bound what a Decoder accepts.
type Limits struct {
	// MaxBytes bounds the encoded file.
	MaxBytes int64
	// MaxPixels bounds width × height, checked from the header before any
	// pixel is decoded: a small file can claim a huge picture.
	MaxPixels int
	// MaxSide bounds the width and the height each.
	MaxSide int
}

// DefaultLimits admit a phone photo (4000 × 3000, 12 megapixels) or a
// tall phone screenshot, and a file of up to 8 MiB.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 8 << 20, MaxPixels: 12_000_000, MaxSide: 8192}
}

// Upper bounds of Limits: beyond them a picture is no camera's or phone's,
// and the memory a decode takes (several bytes per pixel) is no kiosk's.
const (
	maxMaxBytes  = 256 << 20
	maxMaxPixels = 100_000_000
	maxMaxSide   = 1 << 15
)

// Validate reports the first field out of range.
func (l Limits) Validate() error {
	switch {
	case l.MaxBytes < 1 || l.MaxBytes > maxMaxBytes:
		return fmt.Errorf("%w: max_bytes: %d is outside 1..%d", ErrInvalidLimits, l.MaxBytes, maxMaxBytes)
	case l.MaxPixels < 1 || l.MaxPixels > maxMaxPixels:
		return fmt.Errorf("%w: max_pixels: %d is outside 1..%d", ErrInvalidLimits, l.MaxPixels, maxMaxPixels)
	case l.MaxSide < 1 || l.MaxSide > maxMaxSide:
		return fmt.Errorf("%w: max_side: %d is outside 1..%d", ErrInvalidLimits, l.MaxSide, maxMaxSide)
	}
	return nil
}

// Decoder decodes pictures within its Limits. It holds no state between
// calls and is safe for concurrent use.
type Decoder struct {
	limits Limits
	// onPass, when set (by tests), is told the size of each pass's picture.
	onPass func(w, h int, thorough bool)
}

// New returns a Decoder for l.
func New(l Limits) (*Decoder, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &Decoder{limits: l}, nil
}

// Source is the agent.ScannedCode source of a code read from a picture.
const Source = "image"

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xff, 0xd8, 0xff}
)

// Decode reads a PNG or JPEG file from r (at most MaxBytes) and returns the
// text of the QR code in it. Errors: ErrTooLarge, ErrFormat, ErrCorrupt,
// ErrNoCode, ErrUnreadable, or r's own.
func (d *Decoder) Decode(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, d.limits.MaxBytes+1))
	if err != nil {
		return "", fmt.Errorf("read image: %w", err)
	}
	if int64(len(data)) > d.limits.MaxBytes {
		return "", fmt.Errorf("read image: %w: more than %d bytes", ErrTooLarge, d.limits.MaxBytes)
	}
	img, err := d.decodeFile(data)
	if err != nil {
		return "", err
	}
	return d.DecodeImage(img)
}

func (d *Decoder) decodeFile(data []byte) (image.Image, error) {
	var (
		format       string
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, pngMagic):
		format, decodeConfig, decode = "PNG", png.DecodeConfig, png.Decode
	case bytes.HasPrefix(data, jpegMagic):
		format, decodeConfig, decode = "JPEG", jpeg.DecodeConfig, jpeg.Decode
	default:
		return nil, fmt.Errorf("read image: %w", ErrFormat)
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %s header: %w: %v", format, ErrCorrupt, err)
	}
	if err := d.checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, fmt.Errorf("read %s header: %w", format, err)
	}
	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %v", format, ErrCorrupt, err)
	}
	return img, nil
}

func (d *Decoder) checkSize(w, h int) error {
	switch {
	case w < 1 || h < 1:
		return fmt.Errorf("%w: empty picture (%d × %d)", ErrCorrupt, w, h)
	case w > d.limits.MaxSide || h > d.limits.MaxSide:
		return fmt.Errorf("%w: %d × %d pixels, a side over %d", ErrTooLarge, w, h, d.limits.MaxSide)
	case w*h > d.limits.MaxPixels:
		return fmt.Errorf("%w: %d × %d pixels, over %d in all", ErrTooLarge, w, h, d.limits.MaxPixels)
	}
	return nil
}

// DecodeImage returns the text of the QR code in img, which must be within
// the Decoder's pixel limits (a camera frame already in memory).
//
// It looks in up to four passes, the later ones only if the first found
// something code-like: a quick one, at half size for a large picture; one
// at full size; a thorough one that scans every row; and one over a copy
// cleared of speckle (isolated dark and light pixels).
func (d *Decoder) DecodeImage(img image.Image) (string, error) {
	b := img.Bounds()
	if err := d.checkSize(b.Dx(), b.Dy()); err != nil {
		return "", fmt.Errorf("decode QR: %w", err)
	}
	full := luminance(img)
	first := full
	if min(full.w, full.h) >= halveFrom {
		first = full.half()
	}
	text, candidates, err := d.pass(first, false)
	if err == nil {
		return text, nil
	}
	if candidates == 0 {
		return "", fmt.Errorf("decode QR: %w", ErrNoCode)
	}
	if first.w != full.w {
		if text, _, err = d.pass(full, false); err == nil {
			return text, nil
		}
	}
	if text, _, err = d.pass(full, true); err == nil {
		return text, nil
	}
	if text, _, err = d.pass(full.median(), true); err == nil {
		return text, nil
	}
	// gozxing's detector misplaces the sampling grid of a few percent of
	// dense codes (version 7 and up) at one orientation and not at another:
	// the same clean screenshot turned a quarter reads.
	if text, _, err = d.pass(full.rotate(), true); err == nil {
		return text, nil
	}
	return "", fmt.Errorf("decode QR: %w: %v", ErrUnreadable, err)
}

// halveFrom is the shorter side from which the quick pass works on a half
// size copy. At 640 × 480 and below a code's modules are often only two or
// three pixels wide, and halving would lose them.
const halveFrom = 600

func (d *Decoder) pass(g gray, thorough bool) (string, int, error) {
	if d.onPass != nil {
		d.onPass(g.w, g.h, thorough)
	}
	return decodeQR(g, thorough)
}

// decodeQR runs one gozxing pass over g and reports how many finder
// pattern candidates it saw on the way: none means nothing in the picture
// looks like a QR code at all.
//
// gozxing is a port of Java code full of index arithmetic; should a
// hostile picture make it index out of range, that is this picture being
// unreadable, not the kiosk's process ending.
func decodeQR(g gray, thorough bool) (text string, candidates int, err error) {
	defer func() {
		if p := recover(); p != nil {
			text, err = "", fmt.Errorf("decoder failed: %v", p)
		}
	}()
	src, err := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
	if err != nil {
		return "", 0, err
	}
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		return "", 0, err
	}
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_NEED_RESULT_POINT_CALLBACK: gozxing.ResultPointCallback(func(gozxing.ResultPoint) { candidates++ }),
	}
	if thorough {
		hints[gozxing.DecodeHintType_TRY_HARDER] = true
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", candidates, err
	}
	return res.GetText(), candidates, nil
}
