// Package roomid validates the identifiers that become NATS subject tokens:
// room ids (native room_id, Dyson chat_id) and gateway ids.
//
// A room id is 1 to 128 characters of A-Z a-z 0-9 _ -. Anything else, in
// particular '.', '*', '>' and white space, would let a URL reach a subject
// it must not reach (room.a.> for example), so it is refused before any
// subject is built from it.
package roomid

import (
	"errors"
	"fmt"
)

// MaxLen is the longest valid id.
const MaxLen = 128

// ErrInvalid is returned (wrapped) for an id that breaks the rules.
var ErrInvalid = errors.New("invalid id: want 1 to 128 characters of A-Z a-z 0-9 _ -")

// Valid reports whether s is a valid room id.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Check returns ErrInvalid wrapped with the id when s is not valid.
func Check(s string) error {
	if Valid(s) {
		return nil
	}
	if len(s) > MaxLen+8 {
		s = s[:MaxLen+8] + "..."
	}
	return fmt.Errorf("%w: got %q", ErrInvalid, s)
}
