package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/seed-a859fada/medterm/agent/api/strictjson"
)

// Why a body was refused before its JSON was read.
var (
	errMediaType       = errors.New("Content-Type must be application/json")
	errCharset         = errors.New("charset must be utf-8, gbk (or gb2312) or gb18030")
	errInvalidEncoding = errors.New("body is not valid text in its charset")
)

// charsets are the encodings a body may come in. Legacy HIS programs,
// written for Windows code page 936, send GBK and say so; the agent reads
// them as what they are rather than storing mojibake.
// GB2312 is named too, as many such programs label their GBK text: GBK is
// a superset that reads every GB2312 text as GB2312 does.
var charsets = map[string]encoding.Encoding{
	"gbk":     simplifiedchinese.GBK,
	"gb2312":  simplifiedchinese.GBK,
	"gb18030": simplifiedchinese.GB18030,
}

// decodeJSON reads a body of the given Content-Type into v, strictly: the
// media type must be JSON, the charset UTF-8 (the default), GBK or
// GB18030, and the JSON must pass strictjson. r should already be limited
// in size; its limit error is returned as it is.
func decodeJSON(contentType string, r io.Reader, v any) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	var enc encoding.Encoding
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		if enc, ok = charsets[strings.ToLower(cs)]; !ok {
			return errCharset
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if enc != nil {
		if data, err = toUTF8(enc, data); err != nil {
			return err
		}
	}
	return strictjson.Unmarshal(data, v)
}

// toUTF8 converts a GBK or GB18030 body. x/text turns bytes that are not
// a character into U+FFFD without an error, and GBK cannot encode U+FFFD
// at all, so its presence means the body was not valid. GB18030 can
// encode it, but a replacement character in a bill is the trace of an
// earlier broken conversion, so it is refused there too.
func toUTF8(enc encoding.Encoding, data []byte) ([]byte, error) {
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
		return nil, errInvalidEncoding
	}
	return out, nil
}

// decodeBody decodes a JSON request body with decodeJSON, limited to
// MaxBody. It writes the error answer itself and reports whether decoding
// worked. Nothing the caller sent is quoted back: an answer names the
// field and what it must be.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	err := decodeJSON(r.Header.Get("Content-Type"), http.MaxBytesReader(w, r.Body, MaxBody), v)
	if err == nil {
		return true
	}
	status, code, msg := decodeError(err)
	writeError(w, status, code, msg)
	return false
}

// decodeError maps a decoding error to its answer.
func decodeError(err error) (status int, code, msg string) {
	var tooBig *http.MaxBytesError
	var se *strictjson.Error
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("body over %d bytes", MaxBody)
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, codeMediaType, err.Error()
	case errors.Is(err, errCharset):
		return http.StatusUnsupportedMediaType, codeCharset, err.Error()
	case errors.Is(err, errInvalidEncoding):
		return http.StatusBadRequest, codeEncoding, err.Error()
	case !errors.As(err, &se):
		return http.StatusBadRequest, codeBadJSON, "the body could not be read"
	}
	where := se.Path
	if where == "" {
		where = "body"
	}
	switch {
	case errors.Is(err, strictjson.ErrDuplicateKey):
		return http.StatusBadRequest, codeDuplicateKey, where + ": the key appears twice in its object"
	case errors.Is(err, strictjson.ErrInvalidUTF8):
		return http.StatusBadRequest, codeEncoding, where + ": not valid UTF-8 (or a \\u escape that is not a character)"
	case errors.Is(err, strictjson.ErrNUL):
		return http.StatusBadRequest, codeNUL, where + ": strings may not contain NUL (\\u0000)"
	case errors.Is(err, strictjson.ErrEmpty):
		return http.StatusBadRequest, codeBadJSON, "empty body"
	case errors.Is(err, strictjson.ErrTrailingData):
		return http.StatusBadRequest, codeBadJSON, "body has data after the JSON value"
	case errors.Is(err, strictjson.ErrSyntax):
		return http.StatusBadRequest, codeBadJSON, fmt.Sprintf("body is not valid JSON: syntax error at byte %d", se.Offset)
	}
	return http.StatusBadRequest, codeBadJSON, "body is not valid JSON for this request: " + se.Error()
}
