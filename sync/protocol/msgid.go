package protocol

import (
	"fmt"
	"time"
)

// MsgidLen is the length of a msgid: institution code (12), allocation time
// yyyyMMddHHmmss (14), terminal slot (2) and a per-second counter (2).
const MsgidLen = 30

// MsgidClock is the allocation state of one terminal: the second and the
// counter of the last msgid handed out. The journal stores it durably and
// Next is a pure function of it, so allocation is exactly as durable as the
// journal write that records the new state.
type MsgidClock struct {
	Second  int64 `json:"second"` // unix seconds of the last msgid
	Counter int   `json:"counter"`
}

// Next allocates the msgid after c at time now for the institution and the
// terminal slot (00-99), and returns it with the new state. The time part
// never goes backwards: a clock set back, or a burst of more than 100
// msgids in one second, takes the following seconds.
func (c MsgidClock) Next(institution string, slot int, now time.Time) (string, MsgidClock) {
	next := MsgidClock{Second: max(now.Unix(), c.Second)}
	if next.Second == c.Second {
		next.Counter = c.Counter + 1
		if next.Counter > 99 {
			next = MsgidClock{Second: c.Second + 1}
		}
	}
	t := time.Unix(next.Second, 0).In(CST)
	return fmt.Sprintf("%s%s%02d%02d", institution, t.Format(msgidTimeLayout), slot, next.Counter), next
}

// MsgidAfter is the msgid Next hands out right after m while the clock
// has not passed m's second: the next counter, or after the 99th the next
// second's first. ok is false for a malformed m. The journal indexes the
// msgids of one settlement by runs of such successors.
func MsgidAfter(m string) (next string, ok bool) {
	if ValidMsgid(m) != nil {
		return "", false
	}
	counter := int(m[28]-'0')*10 + int(m[29]-'0')
	if counter < 99 {
		return fmt.Sprintf("%s%02d", m[:28], counter+1), true
	}
	t, _ := time.ParseInLocation(msgidTimeLayout, m[12:26], CST)
	return m[:12] + t.Add(time.Second).Format(msgidTimeLayout) + m[26:28] + "00", true
}

// ValidMsgid checks a msgid's shape: 30 characters, the time part a real
// CST time, the slot and counter digits.
func ValidMsgid(m string) error {
	if len(m) != MsgidLen {
		return fmt.Errorf("%w: msgid %q is not %d characters", ErrMalformed, m, MsgidLen)
	}
	if _, err := time.ParseInLocation(msgidTimeLayout, m[12:26], CST); err != nil {
		return fmt.Errorf("%w: msgid %q has no valid time", ErrMalformed, m)
	}
	for _, r := range m[26:] {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: msgid %q sequence is not digits", ErrMalformed, m)
		}
	}
	return nil
}
