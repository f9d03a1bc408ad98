package sdk

import "errors"

// Progress sends lines of progress or status to the host, each with a
// severity. The zero value discards them.
type Progress struct {
	send func(Severity, string)
}

// NewProgress returns a Progress that hands each line to f (for tests).
func NewProgress(f func(Severity, string)) Progress { return Progress{send: f} }

// Info reports an ordinary line.
func (p Progress) Info(msg string) { p.Line(Info, msg) }

// Warning reports a line the user should notice.
func (p Progress) Warning(msg string) { p.Line(Warning, msg) }

// Critical reports a line about something broken.
func (p Progress) Critical(msg string) { p.Line(Critical, msg) }

// Line reports msg with severity sev.
func (p Progress) Line(sev Severity, msg string) {
	if p.send != nil {
		p.send(sev, msg)
	}
}

// Fatal marks err as fatal: returned from an Action or InjectChaos, it ends
// the whole run instead of failing one chapter. Use it when the subject can
// no longer be demonstrated (the cluster is gone), not for a failed step.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return fatalError{err}
}

// IsFatal reports whether err was marked with Fatal.
func IsFatal(err error) bool {
	var f fatalError
	return errors.As(err, &f)
}

type fatalError struct{ error }

func (f fatalError) Unwrap() error { return f.error }
