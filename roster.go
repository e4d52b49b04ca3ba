// Package roster is the domain of the Roster service: organizations, learners, the import
// report and its codes, and the interfaces that the stores and the other adapters implement.
// It imports the standard library only; every adapter imports it, never the other way round.
package roster

import (
	"errors"
	"fmt"
)

// Error codes shared by every adapter. The web layer maps them to HTTP status in one place.
const (
	EINVALID   = "invalid"
	ENOTFOUND  = "not_found"
	ECONFLICT  = "conflict"
	EFORBIDDEN = "forbidden"
	EINTERNAL  = "internal"
	// ESTALE: the organization's learners changed after a preview was made; the caller
	// must validate again instead of writing a stale plan.
	ESTALE = "stale"
	// EUNAVAILABLE: the store cannot be reached, or did not answer in time; nothing the
	// caller sent is wrong, and trying again later may work.
	EUNAVAILABLE = "unavailable"
)

// Error is an application error with a code from the list above and a message meant for
// the user. Err, when set, is the underlying cause, logged but never shown.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; internal errors get a plain one so
// that no detail of the cause leaks.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}
