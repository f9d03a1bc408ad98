package subject

import "errors"

// Sentinels a plugin call's error may match with errors.Is.
var (
	// ErrFatal: the plugin marked the error fatal; the run ends.
	ErrFatal = errors.New("fatal plugin error")
	// ErrUnreachable: the plugin process cannot be reached (it crashed).
	ErrUnreachable = errors.New("plugin unreachable")
	// ErrTimedOut: the call did not finish within its deadline.
	ErrTimedOut = errors.New("plugin call timed out")
	// ErrRefused: the plugin refused the request as invalid (a bad option
	// or parameter, a call out of order).
	ErrRefused = errors.New("plugin refused the request")
)

// CallError is an error returned by a plugin call. Its text is the
// plugin's own message, without transport framing.
type CallError struct {
	Message string
	// Kind is one of the sentinels above, or nil for an ordinary failure.
	Kind error
}

func (e *CallError) Error() string { return e.Message }

// Is matches the error's kind.
func (e *CallError) Is(target error) bool { return e.Kind != nil && target == e.Kind }
