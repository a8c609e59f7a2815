package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/seed-a859fada/medterm/agent"
)

// Stable error codes of the local API. A HIS branches on these; the
// OpenAPI document lists them all (a test holds it to this block).
const (
	codeForbiddenHost   = "FORBIDDEN_HOST"
	codeForbiddenOrigin = "FORBIDDEN_ORIGIN"
	codeUnauthorized    = "UNAUTHORIZED"
	codeInvalid         = "INVALID_REQUEST"
	codeBadJSON         = "MALFORMED_JSON"
	codeTooLarge        = "BODY_TOO_LARGE"
	codeMediaType       = "UNSUPPORTED_MEDIA_TYPE"
	codeNotFound        = "NOT_FOUND"
	codeIdemConflict    = "IDEMPOTENCY_CONFLICT"
	codeConflict        = "CONFLICT"
	codeJournal         = "JOURNAL_UNAVAILABLE"
	codeNotRecorded     = "OUTCOME_NOT_RECORDED"
	codeInternal        = "INTERNAL"
	codeMethod          = "METHOD_NOT_ALLOWED"
	codeCharset         = "UNSUPPORTED_CHARSET"
	codeDuplicateKey    = "DUPLICATE_KEY"
	codeEncoding        = "INVALID_ENCODING"
	codeNUL             = "NUL_CHARACTER"
	codeReconcile       = "RECONCILE_FAILED"
	codeNoCode          = "NO_CODE"
	codeUnreadableImage = "UNREADABLE_IMAGE"
	codeNoPrinter       = "NO_PRINTER"
	codePrintFailed     = "PRINT_FAILED"
)

// ErrorBody is every error answer: a stable code, what the patient or the
// cashier reads (Chinese and English), and the detail for the HIS's
// developers and the log. None of them contains personal data.
type ErrorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		MessageZH string `json:"message_zh"`
		MessageEN string `json:"message_en"`
	} `json:"error"`
}

// codeTexts is what each transport-level code tells a person; refusals of
// the core carry their own.
var codeTexts = map[string][2]string{
	codeForbiddenHost:   {"请求地址不被允许", "this address is not allowed"},
	codeForbiddenOrigin: {"此网页无权调用本机服务", "this web page may not call the terminal"},
	codeUnauthorized:    {"未授权：令牌缺失或错误", "not authorised: the token is missing or wrong"},
	codeInvalid:         {"请求参数有误", "the request is not valid"},
	codeBadJSON:         {"请求格式错误", "the request is not well-formed JSON"},
	codeTooLarge:        {"请求过大", "the request is too large"},
	codeMediaType:       {"请求类型不支持", "this content type is not supported"},
	codeNotFound:        {"未找到", "not found"},
	codeIdemConflict:    {"此业务号已用于另一笔账单", "this idempotency key was used for another bill"},
	codeConflict:        {"当前状态下不能进行此操作", "not allowed in the current state"},
	codeJournal:         {"本机记账失败，未收费，请联系信息科", "the terminal could not record this; nothing was charged; please call IT"},
	codeNotRecorded:     {"结果未能记录，请用同一业务号重新提交", "the outcome could not be recorded; submit again under the same key"},
	codeInternal:        {"系统内部错误，请联系信息科", "internal error; please call IT"},
	codeMethod:          {"不支持此操作", "this method is not allowed here"},
	codeCharset:         {"字符集不支持", "this character set is not supported"},
	codeDuplicateKey:    {"请求中有重复字段", "the request repeats a field"},
	codeEncoding:        {"请求中有无效字符", "the request holds invalid text"},
	codeNUL:             {"请求中有无效字符", "the request holds a NUL character"},
	codeReconcile:       {"对账失败，请稍后重试", "reconciliation failed; try again later"},
	codeNoCode:          {"图片中未找到医保码，请重新出示", "no code found in the picture; please show it again"},
	codeUnreadableImage: {"图片无法识别", "the picture could not be read"},
	codeNoPrinter:       {"本机未连接凭条打印机", "this terminal has no receipt printer"},
	codePrintFailed:     {"凭条打印失败，请扫描二维码保存或到窗口补打", "the receipt could not be printed; scan the QR code, or ask the window to print it"},
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	t := codeTexts[code]
	writeRefusal(w, status, code, msg, t[0], t[1])
}

func writeRefusal(w http.ResponseWriter, status int, code, msg, zh, en string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message, b.Error.MessageZH, b.Error.MessageEN = code, msg, zh, en
	writeJSON(w, status, b)
}

// writeErr maps a core error to its status and code: the one place where
// that mapping lives.
func writeErr(w http.ResponseWriter, err error) {
	var ref *agent.Refused
	switch {
	case errors.As(err, &ref):
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, agent.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, agent.ErrConflict):
			status = http.StatusConflict
		case errors.Is(err, agent.ErrUnreachable):
			status = http.StatusServiceUnavailable
		}
		msg := ref.EN
		if errors.Is(err, agent.ErrUnknownReader) {
			// The core's message quotes the reader name the caller sent.
			msg = "identity.card_reader: no such card reader on this terminal (GET /v1/cards lists them)"
		}
		writeRefusal(w, status, ref.Code, msg, ref.ZH, ref.EN)
	case errors.Is(err, agent.ErrInvalid):
		writeError(w, http.StatusBadRequest, codeInvalid, err.Error())
	case errors.Is(err, agent.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, agent.ErrIdempotencyConflict):
		writeError(w, http.StatusConflict, codeIdemConflict, err.Error())
	case errors.Is(err, agent.ErrConflict):
		writeError(w, http.StatusConflict, codeConflict, err.Error())
	case errors.Is(err, agent.ErrNotAccepted):
		writeError(w, http.StatusServiceUnavailable, codeJournal, "the journal could not store this bill; nothing was accepted or sent: "+err.Error())
	case errors.Is(err, agent.ErrNotRecorded):
		writeError(w, http.StatusServiceUnavailable, codeNotRecorded, "the bill was accepted, but its latest outcome could not be recorded; submit it again under the same key to learn where it stands: "+err.Error())
	case errors.Is(err, agent.ErrJournal), errors.Is(err, agent.ErrJournalLocked):
		writeError(w, http.StatusServiceUnavailable, codeJournal, "the journal could not be read or written: "+err.Error())
	default:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
