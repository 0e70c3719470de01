// Package jsonscan reads JSON objects field by field, validating as it goes,
// without decoding what the caller does not ask for.
//
// Hot paths use it to pick a few routing fields out of a frame and carry the
// rest (a signal's data) byte for byte: values come back as sub-slices of the
// input, never copied or re-encoded. It wraps the streaming tokenizer of
// github.com/go-json-experiment/json/jsontext, which validates strictly
// (UTF-8, escapes, no duplicate names) at a fraction of the cost of
// encoding/json.Unmarshal.
//
// An Object is not safe for concurrent use; take one per call with Get and
// return it with Put.
package jsonscan

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Errors of a malformed input. Callers turn them into their own error
// packets; the messages are meant for the client that sent the input.
var (
	// ErrNotObject is returned when the input is not one JSON object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrWrongType is returned by the typed getters for a value of another type.
	ErrWrongType = errors.New("wrong type")
)

// Object reads the fields of one JSON object.
type Object struct {
	src []byte
	buf bytes.Buffer
	dec jsontext.Decoder
	err error
}

var pool = sync.Pool{New: func() any { return new(Object) }}

// Get returns an Object reading src, which must hold exactly one JSON
// object. Values it returns alias src.
func Get(src []byte) *Object {
	o := pool.Get().(*Object)
	o.reset(src)
	return o
}

// Put returns o to the pool; o and the values it returned must not be used
// afterwards (values alias the caller's src, which Put does not touch).
func Put(o *Object) {
	o.src = nil
	o.buf = bytes.Buffer{}
	o.dec.Reset(&o.buf)
	pool.Put(o)
}

func (o *Object) reset(src []byte) {
	o.src, o.err = src, nil
	// A bytes.Buffer lets the decoder read src in place rather than copy it.
	o.buf = *bytes.NewBuffer(src)
	o.dec.Reset(&o.buf)
	if o.dec.PeekKind() != '{' {
		o.err = ErrNotObject
		return
	}
	if _, err := o.dec.ReadToken(); err != nil {
		o.err = ErrNotObject
	}
}

// Err returns the first syntax error met, or ErrNotObject.
func (o *Object) Err() error { return o.err }

// Next advances to the next field and returns its name, quoted and as
// written (compare with Name). It returns false at the end of the object or
// on a syntax error (see Err). The caller reads or skips the value before
// calling Next again; an unread value is skipped.
func (o *Object) Next() (name []byte, ok bool) {
	if o.err != nil {
		return nil, false
	}
	if o.dec.PeekKind() == '}' {
		if _, err := o.dec.ReadToken(); err != nil {
			o.fail(err)
			return nil, false
		}
		// Nothing but whitespace may follow the object.
		if _, err := o.dec.ReadToken(); err != io.EOF {
			o.err = ErrNotObject
		}
		return nil, false
	}
	v, err := o.dec.ReadValue()
	if err != nil {
		o.fail(err)
		return nil, false
	}
	return v, true
}

// Fields iterates over the object's fields as Next does, yielding each
// name; check Err after the loop.
func (o *Object) Fields() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for {
			name, ok := o.Next()
			if !ok || !yield(name) {
				return
			}
		}
	}
}

func (o *Object) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// Raw returns the next value as written in the input, validated.
func (o *Object) Raw() ([]byte, bool) {
	v, err := o.dec.ReadValue()
	if err != nil {
		o.fail(err)
		return nil, false
	}
	end := int(o.dec.InputOffset())
	return o.src[end-len(v) : end], true
}

// Kind returns the kind of the next value: '"' string, '{' object, '['
// array, '0' number, 't' or 'f' boolean, 'n' null, 0 on error.
func (o *Object) Kind() jsontext.Kind { return o.dec.PeekKind() }

// Skip skips the next value.
func (o *Object) Skip() {
	if err := o.dec.SkipValue(); err != nil {
		o.fail(err)
	}
}

// String reads the next value as a string. A null reads as "" with null
// set; any other type returns ErrWrongType (and the value is skipped).
func (o *Object) String() (s string, null bool, err error) {
	switch o.dec.PeekKind() {
	case '"':
	case 'n':
		o.Skip()
		return "", true, o.err
	default:
		o.Skip()
		if o.err != nil {
			return "", false, o.err
		}
		return "", false, ErrWrongType
	}
	v, err := o.dec.ReadValue()
	if err != nil {
		o.fail(err)
		return "", false, err
	}
	return Unquote(v), false, nil
}

// Object enters the next value, which must be an object (null: false,
// nil), and calls fn for each of its fields; fn must read or skip the
// value.
func (o *Object) Object(fn func(name []byte) error) (present bool, err error) {
	switch o.dec.PeekKind() {
	case '{':
	case 'n':
		o.Skip()
		return false, o.err
	default:
		o.Skip()
		if o.err != nil {
			return false, o.err
		}
		return false, ErrWrongType
	}
	if _, err := o.dec.ReadToken(); err != nil {
		o.fail(err)
		return false, err
	}
	for o.dec.PeekKind() != '}' {
		name, err := o.dec.ReadValue()
		if err != nil {
			o.fail(err)
			return false, err
		}
		if err := fn(name); err != nil {
			return false, err
		}
		if o.err != nil {
			return false, o.err
		}
	}
	if _, err := o.dec.ReadToken(); err != nil {
		o.fail(err)
		return false, err
	}
	return true, nil
}

// Name reports whether the quoted name n, as Next returns it, is want.
// Names written with escapes are unquoted first.
func Name(n []byte, want string) bool {
	if len(n) == len(want)+2 && string(n[1:len(n)-1]) == want {
		return true
	}
	return bytes.IndexByte(n, '\\') >= 0 && Unquote(n) == want
}

// Unquote returns the string a valid quoted JSON string stands for.
func Unquote(v []byte) string {
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1])
	}
	b, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return ""
	}
	return string(b)
}

// AppendString appends s as a quoted JSON string. Invalid UTF-8 is
// replaced, never written out.
func AppendString(dst []byte, s string) []byte {
	if simple(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	out, _ := jsontext.AppendQuote(dst, s) // invalid UTF-8 is replaced, and reported
	return out
}

// simple reports whether s needs no escaping: printable ASCII without '"'
// or '\\'. Ids and names are, nearly always.
func simple(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
