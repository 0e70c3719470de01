package jsonscan

import (
	"errors"
	"testing"
)

func TestObject(t *testing.T) {
	src := []byte(` { "a" : "x\u0041" , "\u0062":null, "c": [1, {"d":2}] ,"e":{"f":"g"}, "n":7 } `)
	o := Get(src)
	defer Put(o)
	got := map[string]string{}
	for name := range o.Fields() {
		switch {
		case Name(name, "a"), Name(name, "b"):
			s, null, err := o.String()
			if err != nil {
				t.Fatal(err)
			}
			if null {
				s = "<null>"
			}
			got[Unquote(name)] = s
		case Name(name, "c"):
			raw, _ := o.Raw()
			got["c"] = string(raw)
		case Name(name, "e"):
			present, err := o.Object(func(n []byte) error {
				s, _, err := o.String()
				got["e."+Unquote(n)] = s
				return err
			})
			if !present || err != nil {
				t.Fatalf("e: %v %v", present, err)
			}
		case Name(name, "n"):
			if _, _, err := o.String(); !errors.Is(err, ErrWrongType) {
				t.Fatalf("n read as a string: %v", err)
			}
		}
	}
	if err := o.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "xA", "b": "<null>", "c": `[1, {"d":2}]`, "e.f": "g"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestObjectErrors(t *testing.T) {
	for _, src := range []string{``, `[]`, `"s"`, `{"a":1} {}`, `{"a":1`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a" 1}`, `{'a':1}`} {
		o := Get([]byte(src))
		for range o.Fields() {
			o.Skip()
		}
		if o.Err() == nil {
			t.Errorf("%q: no error", src)
		}
		Put(o)
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     `"plain"`,
		`q"b\`:      `"q\"b\\"`,
		"tab\there": `"tab\there"`,
		"é":         `"é"`,
		"bad\xff":   "\"bad\ufffd\"",
	} {
		if got := string(AppendString(nil, in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
	}
}
