package client

import "errors"

// ErrConfig wraps configuration problems found by New.
var ErrConfig = errors.New("platform client configuration")
