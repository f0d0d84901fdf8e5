// Package apperr is the one shape of an error a user should read: a kind
// (which the HTTP layer maps to a status once), a stable snake_case code for
// programs, a Chinese message for people, the field concerned, and extra
// members such as attempts_left or retry_after. Domain services return these
// for every refusal a user can fix; anything else is an internal error.
package apperr

import "errors"

// Kind classifies a refusal; handlers/errors.go maps each kind to a status.
type Kind int

// The kinds of refusal.
const (
	Invalid      Kind = iota + 1 // 422: a field is wrong
	NotFound                     // 404
	Conflict                     // 409: taken, stale, already open
	Unauthorized                 // 401: wrong credentials
	Forbidden                    // 403
	Locked                       // 423: account locked
	Gone                         // 410: expired
	RateLimited                  // 429
	TooLarge                     // 413
	Unsupported                  // 415
	BadRequest                   // 400
)

// FieldError is one field's problem, so a form can show all of them at once.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is a refusal a user can act on.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Field   string
	Extra   map[string]any
	// Fields lists every field problem when several fields are wrong; Code,
	// Message and Field then repeat the first one.
	Fields []FieldError
	// origin is the sentinel this error was copied from (by With,
	// WithField or WithMessage); nil on a sentinel itself.
	origin *Error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an error of kind with code and message.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// sentinel is the error e was copied from, or e itself.
func (e *Error) sentinel() *Error {
	if e.origin != nil {
		return e.origin
	}
	return e
}

// copy returns a copy of e that still answers to e's sentinel.
func (e *Error) copy() *Error {
	c := *e
	c.origin = e.sentinel()
	return &c
}

// WithField returns a copy of e about field.
func (e *Error) WithField(field string) *Error {
	c := e.copy()
	c.Field = field
	return c
}

// WithMessage returns a copy of e with other words for the same refusal
// (a more precise message in one place), still matching e's sentinel.
func (e *Error) WithMessage(message string) *Error {
	c := e.copy()
	c.Message = message
	return c
}

// With returns a copy of e with an extra member.
func (e *Error) With(key string, value any) *Error {
	c := e.copy()
	c.Extra = make(map[string]any, len(e.Extra)+1)
	for k, v := range e.Extra {
		c.Extra[k] = v
	}
	c.Extra[key] = value
	return c
}

// Is makes errors.Is match a copy made by With, WithField or WithMessage to
// the sentinel it came from, and to nothing else: identity is the sentinel
// value, not its kind and code. Two sentinels may share a code (staff and
// applicant lockouts are both account_locked to a program) yet are
// different refusals to the code that branches on them.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e.sentinel() == t.sentinel()
}

// IsKind reports whether err is a refusal of kind k (whatever its sentinel),
// for callers that branch on the class of refusal, such as "not found".
func IsKind(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}

// Fields builds a 422 from several field problems; nil when there are none.
func FromFields(fields []FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	f := fields[0]
	return &Error{Kind: Invalid, Code: f.Code, Message: f.Message, Field: f.Field, Fields: fields}
}

// As extracts an *Error from err.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
