package imagecode

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary files to Decode: whatever arrives, it returns
// text or one of the package's errors, never panics, and never both.
func FuzzDecode(f *testing.F) {
	f.Add(qrencode(f, numericCode, "-s", "1", "-m", "1"))
	f.Add(qrencode(f, opaqueCode, "-s", "2"))
	f.Add(encodeJPEG(f, qrImage(f, numericCode, 2), 80))
	f.Add(encodePNG(f, noisy(qrImage(f, numericCode, 2), 40, 0.02, 1)))
	f.Add(pngHeader(3, 3))
	d, err := New(Limits{MaxBytes: 64 << 10, MaxPixels: 256 * 256, MaxSide: 512})
	if err != nil {
		f.Fatal(err)
	}
	known := []error{ErrNoCode, ErrUnreadable, ErrTooLarge, ErrFormat, ErrCorrupt}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := d.Decode(bytes.NewReader(data))
		if err == nil {
			return
		}
		if text != "" {
			t.Fatalf("text %q with error %v", text, err)
		}
		for _, k := range known {
			if errors.Is(err, k) {
				return
			}
		}
		t.Fatalf("error %v is none of the package's", err)
	})
}
