package journal

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Records are stored zstd-compressed (schema 6), against a dictionary
// since schema 7. A record's JSON repeats its field names, its states and
// its notes in every record; alone, zstd finds the repeats within one
// record only and takes it to a half. The dictionary is a few typical
// records, the history every record's compression starts from, so that
// what every record says alike costs a few bytes: a settled record takes
// a fifth of its JSON.
//
// A dictionary is never changed once released: records in the field were
// compressed against it, and its ID in each frame says which one to read
// them with. A better one is added under the next ID, the decoder keeping
// every earlier one. Frames of schema 6 name no dictionary and read as
// they were; a record starting with '{' is one of an older file, stored
// as it was.
var (
	//go:embed recorddict_v1.json
	recordDictV1 []byte

	encoder = must(zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderDictRaw(recordDictID, recordDictV1)))
	decoder = must(zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(maxRecord),
		zstd.WithDecoderDictRaw(1, recordDictV1)))
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// must is for the codecs, made once from constants: an error is a
// defect of this build, not of any file.
func must[T any](v T, err error) T {
	if err != nil {
		panic("journal record codec: " + err.Error())
	}
	return v
}

// recordDictID is the dictionary new records are compressed against.
const recordDictID = 1

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
