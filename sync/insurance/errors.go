package insurance

import "errors"

// Sentinel errors of the package.
var (
	// ErrConfig is an [insurance] section that cannot work: the message
	// names the field.
	ErrConfig = errors.New("insurance configuration")
	// ErrAnswer is an answer the adapter will not take: a field it uses
	// missing or out of shape. It wraps protocol.ErrMalformed where the
	// decoding failed.
	ErrAnswer = errors.New("insurance answer unusable")
)
