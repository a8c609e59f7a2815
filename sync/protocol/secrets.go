package protocol

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

// MinSecretLen is the shortest institution secret accepted, in bytes.
const MinSecretLen = 16

// LoadSecrets reads a secrets file: a JSON object mapping institution codes
// to hex-encoded gateway credentials, {"H44190000001": "9f2c..."}: under
// the tif profile, the institution's paasid is its code and its token is
// the credential. The agent keeps
// only its own institution's entry; the sandbox keeps one per institution
// it serves. The file must not be readable by others.
func LoadSecrets(path string) (map[string][]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecrets, err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by everyone (mode %04o); chmod 600 or 640 it", ErrSecrets, path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSecrets, err)
	}
	var raw map[string]string
	if err := unmarshal(data, &raw, true); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSecrets, path, err)
	}
	out := make(map[string][]byte, len(raw))
	for code, h := range raw {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: secret of %s is not hex", ErrSecrets, path, code)
		}
		if len(b) < MinSecretLen {
			return nil, fmt.Errorf("%w: %s: secret of %s is shorter than %d bytes", ErrSecrets, path, code, MinSecretLen)
		}
		out[code] = b
	}
	return out, nil
}

// WriteSecrets writes a secrets file with mode 0600. It is for set-up
// scripts and tests; it refuses to overwrite an existing file.
func WriteSecrets(path string, secrets map[string][]byte) error {
	raw := make(map[string]string, len(secrets))
	for code, b := range secrets {
		raw[code] = hex.EncodeToString(b)
	}
	data, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSecrets, err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("%w: %v", ErrSecrets, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%w: %v", ErrSecrets, err)
	}
	return f.Close()
}
