package imagecode_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/seed-a859fada/medterm/devices/imagecode"
)

// TestDenseCodesAllRead: signed insurance codes fill QR version 10; a few
// percent of such codes defeat gozxing's detector at one orientation. Every
// one of a hundred must read.
func TestDenseCodesAllRead(t *testing.T) {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	rng := rand.New(rand.NewPCG(1, 2))
	dec, err := imagecode.New(imagecode.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		b := make([]byte, 305)
		for j := range b {
			b[j] = alnum[rng.IntN(len(alnum))]
		}
		text := "YB1:" + string(b)
		q, err := qrcode.New(text, qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := q.PNG(-4)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(bytes.NewReader(raw))
		if err != nil || got != text {
			t.Fatalf("code %d (version %d) did not read: %v", i, q.VersionNumber, err)
		}
	}
}
