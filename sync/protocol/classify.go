package protocol

import (
	"fmt"
	"regexp"
	"strings"
)

// The national interface has no machine-readable reason: a failure is
// infcode -1 (or, in Hunan, 0) with the reason in Chinese in err_msg, and
// each province words its messages its own way. A Classifier decides the
// kind of a failure from its infcode and from regular expressions over
// err_msg, configured per province; what no pattern matches is a processed
// refusal, never a success and never something to resend.

// Patterns are the err_msg regular expressions of each kind. The first kind whose pattern matches wins, in the
// order sign-in, door, duplicate, not found: a message about the session
// is about the session even when it says "不存在".
type Patterns struct {
	SignIn    []string `toml:"sign_in"`
	Door      []string `toml:"door"`
	Duplicate []string `toml:"duplicate"`
	NotFound  []string `toml:"not_found"`
}

// DefaultPatterns are the wordings seen in public clients and the
// specification, and the sandbox's. No public source shows a real
// message for an expired session, a duplicate or a missing settlement
// (see the research notes), so these are educated guesses for a
// province's configuration to refine.
func DefaultPatterns() Patterns {
	return Patterns{
		SignIn:    []string{`签到`, `sign_no`, `(?i)sign[- ]?in`},
		Door:      []string{`签名`, `验签`, `时间戳`, `非法用户`, `请求头`, `(?i)nonce`, `未处理`, `请稍后重试`},
		Duplicate: []string{`重复`, `已存在`, `已经存在`, `已撤销`, `已冲正`, `已退`},
		NotFound:  []string{`不存在`, `未找到`, `找不到`, `查无`, `未查询到`, `无此`},
	}
}

// Classifier classifies failures. The zero value is not usable: build one
// with NewClassifier.
type Classifier struct {
	order [4]struct {
		kind string
		res  []*regexp.Regexp
	}
	infcodes map[int]string
}

// NewClassifier compiles p, naming the pattern that does not compile.
// InfcodeKinds maps infcodes other than 0 and -1 to a kind, for a gateway
// that uses them.
func NewClassifier(p Patterns, infcodeKinds map[int]string) (*Classifier, error) {
	c := &Classifier{infcodes: map[int]string{}}
	for code, kind := range infcodeKinds {
		switch kind {
		case KindRefused, KindSignIn, KindDoor, KindNotFound, KindDuplicate:
		default:
			return nil, fmt.Errorf("infcode %d: unknown kind %q", code, kind)
		}
		c.infcodes[code] = kind
	}
	for i, set := range []struct {
		kind, name string
		pats       []string
	}{
		{KindSignIn, "sign_in", p.SignIn},
		{KindDoor, "door", p.Door},
		{KindDuplicate, "duplicate", p.Duplicate},
		{KindNotFound, "not_found", p.NotFound},
	} {
		c.order[i].kind = set.kind
		for _, s := range set.pats {
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("%s pattern %q: %w", set.name, s, err)
			}
			c.order[i].res = append(c.order[i].res, re)
		}
	}
	return c, nil
}

// MustClassifier is NewClassifier for patterns known to compile.
func MustClassifier(p Patterns) *Classifier {
	c, err := NewClassifier(p, nil)
	if err != nil {
		panic(err)
	}
	return c
}

// Kind classifies a failure by its infcode and its message.
func (c *Classifier) Kind(infcode int, msg string) string {
	if k, ok := c.infcodes[infcode]; ok {
		return k
	}
	for _, set := range c.order {
		for _, re := range set.res {
			if re.MatchString(msg) {
				return set.kind
			}
		}
	}
	return KindRefused
}

// Failure builds the error of a failed answer to infno: the message
// without its trace suffix, classified.
func (c *Classifier) Failure(infno string, r *Response) *Error {
	text, trace, host := SplitTrace(r.ErrMsg)
	if strings.TrimSpace(text) == "" {
		text = fmt.Sprintf("infcode %d without a message", int(r.Infcode))
	}
	return &Error{
		Infno: infno, Infcode: int(r.Infcode), Kind: c.Kind(int(r.Infcode), text),
		Code: r.ErrCode, Message: text, TraceID: trace, Host: host,
	}
}

// GatewayFailure is the error of an answer outside the envelope that
// refused the request at the door.
func GatewayFailure(infno string, g *GatewayError) *Error {
	return &Error{Infno: infno, Infcode: InfcodeFail, Kind: KindDoor, Message: fmt.Sprintf("%s (gateway code %s)", g.Message, g.Code)}
}
