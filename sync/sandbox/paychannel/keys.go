package paychannel

import (
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emmansun/gmsm/sm2"

	"github.com/seed-a859fada/medterm/sync/unionpay/acp"
)

// The sandbox's merchant: the hospital as the channel knows it.
const (
	MerchantID     = "898440148160001"
	TokenRequestor = "62000000001"
)

// Keys are the two key pairs a channel and its merchant need, as files in
// one directory: what the agent reads (its own private key, the channel's
// public key) and what the sandbox reads (its own private key, the
// merchant's public key). A fresh pair is made for every new directory, as
// a bank and a hospital would exchange public keys once.
type Keys struct {
	Dir string
	// The agent's side, for [payment] key_file and channel_key_file.
	MerchantKeyFile, ChannelPubFile string
	// The sandbox's side.
	Channel  *sm2.PrivateKey
	Merchant *ecdsa.PublicKey
}

// Key file names in Keys.Dir.
const (
	merchantKeyName = "payment.key"
	merchantPubName = "merchant.pub"
	channelKeyName  = "channel.key"
	channelPubName  = "channel.pub"
)

// LoadOrMakeKeys reads the keys in dir, or makes and writes them there
// (private keys 0600) if dir holds none.
func LoadOrMakeKeys(dir string) (Keys, error) {
	k := Keys{Dir: dir, MerchantKeyFile: filepath.Join(dir, merchantKeyName), ChannelPubFile: filepath.Join(dir, channelPubName)}
	if _, err := os.Stat(filepath.Join(dir, channelKeyName)); errors.Is(err, os.ErrNotExist) {
		if err := k.make(); err != nil {
			return Keys{}, fmt.Errorf("payment channel keys in %s: %w", dir, err)
		}
	}
	chKey, err := os.ReadFile(filepath.Join(dir, channelKeyName))
	if err != nil {
		return Keys{}, fmt.Errorf("payment channel keys: %w", err)
	}
	if k.Channel, err = acp.ParsePrivateKey(chKey); err != nil {
		return Keys{}, fmt.Errorf("payment channel keys: %s: %w", channelKeyName, err)
	}
	merPub, err := os.ReadFile(filepath.Join(dir, merchantPubName))
	if err != nil {
		return Keys{}, fmt.Errorf("payment channel keys: %w", err)
	}
	pubs, err := acp.ParsePublicKeys(merPub)
	if err != nil || len(pubs) == 0 {
		return Keys{}, fmt.Errorf("payment channel keys: %s: %v", merchantPubName, err)
	}
	k.Merchant = pubs[0]
	return k, nil
}

func (k Keys) make() error {
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return err
	}
	merchant, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	channel, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		priv *sm2.PrivateKey
		pub  *ecdsa.PublicKey
	}{
		{merchantKeyName, merchant, nil}, {merchantPubName, nil, &merchant.PublicKey},
		{channelKeyName, channel, nil}, {channelPubName, nil, &channel.PublicKey},
	} {
		var b []byte
		if f.priv != nil {
			b, err = acp.MarshalPrivateKey(f.priv)
		} else {
			b, err = acp.MarshalPublicKey(f.pub)
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(k.Dir, f.name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
