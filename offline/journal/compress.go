package journal

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Records are stored zstd-compressed (schema 6): a record's JSON, its
// field names repeated in every record, shrinks to a third, and the
// journal of a long outage with it. A record starting with '{' is one of
// an older file, stored as it was.
var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(maxRecord))
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// maxRecord bounds what a stored record may decompress to: a damaged or
// forged record cannot make the journal allocate without limit.
const maxRecord = 16 << 20

func compress(data []byte) []byte {
	return encoder.EncodeAll(data, make([]byte, 0, len(data)/2))
}

func decompress(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, zstdMagic) {
		if len(data) > 0 && data[0] == '{' {
			return data, nil
		}
		return nil, errors.New("neither a compressed nor a plain record")
	}
	out, err := decoder.DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress the record: %w", err)
	}
	return out, nil
}
