package psam_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/emmansun/gmsm/sm4"
	"github.com/seed-a859fada/medterm/devices/apdu"
	"github.com/seed-a859fada/medterm/devices/psam"
	"github.com/seed-a859fada/medterm/devices/vcard"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	master    = unhex("0123456789ABCDEFFEDCBA9876543210")
	cardID    = unhex("440100D1560000050000000000012345")
	challenge = unhex("1122334455667788")
)

func TestSM4IsTheStandardCipher(t *testing.T) {
	// GB/T 32907-2016, appendix A: key = plaintext = 0123...3210.
	got, err := psam.CardKey(master, master)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex("681EDF34D206965E86B3E94F536E4246"); !bytes.Equal(got, want) {
		t.Fatalf("SM4 gave %X, want the standard's %X", got, want)
	}
}

func TestCryptogramIsTheChallengePaddedUnderTheDiversifiedKey(t *testing.T) {
	key, err := psam.CardKey(master, cardID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := psam.Cryptogram(key, challenge)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := sm4.NewCipher(key)
	want := make([]byte, 16)
	c.Encrypt(want, append(bytes.Clone(challenge), make([]byte, 8)...))
	if !bytes.Equal(got, want) {
		t.Fatalf("%X, want %X", got, want)
	}
}

func TestSchemeRejectsWrongSizes(t *testing.T) {
	if _, err := psam.CardKey(master[:15], cardID); !errors.Is(err, psam.ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
	if _, err := psam.CardKey(master, cardID[:8]); !errors.Is(err, psam.ErrBadRequest) {
		t.Errorf("short identifier: %v", err)
	}
	if _, err := psam.Cryptogram(master, challenge[:4]); !errors.Is(err, psam.ErrBadRequest) {
		t.Errorf("short challenge: %v", err)
	}
}

// readers hands out one connection per Connect and counts them.
type readers struct {
	card     func() *flaky
	connects int
}

func (r *readers) Connect(context.Context, string) (*flaky, error) {
	r.connects++
	return r.card(), nil
}

// flaky fails its next transmission like a reseated PSAM.
type flaky struct {
	psam.Card
	fail bool
}

var errTransport = errors.New("transport broke")

func (f *flaky) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if f.fail {
		f.fail = false
		return nil, errTransport
	}
	return f.Card.Transmit(ctx, cmd)
}

func TestModuleAuthenticatesThroughTheVirtualPSAM(t *testing.T) {
	vp, err := vcard.NewPSAM(map[byte][]byte{0x04: master})
	if err != nil {
		t.Fatal(err)
	}
	card := &flaky{Card: vcard.Direct(vp)}
	r := &readers{card: func() *flaky { return card }}
	m := psam.New(r, "PSAM")
	defer m.Close()
	req := psam.Request{CardID: cardID, Region: "440100", Challenge: challenge, KeyID: 0x04}

	got, err := m.Authenticate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := psam.CardKey(master, cardID)
	want, _ := psam.Cryptogram(key, challenge)
	if !bytes.Equal(got, want) {
		t.Fatalf("cryptogram %X, want %X", got, want)
	}

	t.Run("an unknown key id is the PSAM's own refusal", func(t *testing.T) {
		_, err := m.Authenticate(context.Background(), psam.Request{CardID: cardID, Challenge: challenge, KeyID: 0x09})
		var se *apdu.StatusError
		if !errors.As(err, &se) || se.SW != 0x6A88 {
			t.Fatalf("err %v, want status 6A88", err)
		}
	})
	t.Run("a kept connection that fails is replaced at once", func(t *testing.T) {
		card.fail = true
		if _, err := m.Authenticate(context.Background(), req); err != nil {
			t.Fatalf("err %v", err)
		}
		if r.connects != 2 {
			t.Fatalf("%d connects, want 2", r.connects)
		}
	})
	t.Run("a new connection that fails is an error", func(t *testing.T) {
		m.Close()
		card.fail = true
		if _, err := m.Authenticate(context.Background(), req); !errors.Is(err, errTransport) {
			t.Fatalf("err %v, want the transport error", err)
		}
		if _, err := m.Authenticate(context.Background(), req); err != nil {
			t.Fatalf("the next call: %v", err)
		}
	})
	t.Run("a malformed request never reaches the PSAM", func(t *testing.T) {
		_, err := m.Authenticate(context.Background(), psam.Request{CardID: cardID[:4], Challenge: challenge})
		if !errors.Is(err, psam.ErrBadRequest) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestVirtualPSAMRefusesEncryptionWithoutDiversification(t *testing.T) {
	vp, _ := vcard.NewPSAM(map[byte][]byte{0x04: master})
	card := vcard.Direct(vp)
	ctx := context.Background()
	if _, err := apdu.Exchange(ctx, card, apdu.Command{INS: 0xA4, P1: 4, Data: psam.AID}); err != nil {
		t.Fatal(err)
	}
	_, err := apdu.Exchange(ctx, card, apdu.Command{CLA: psam.CLA, INS: psam.INSEncrypt, Data: challenge, Le: 16})
	if !errors.Is(err, apdu.ErrConditions) {
		t.Fatalf("err %v, want 6985", err)
	}
}
