package env

import (
	"errors"
	"strings"
	"testing"
)

func TestNATS(t *testing.T) {
	get := func(v string) func(string) string { return func(string) string { return v } }
	for _, ok := range []string{"", "nats://a:4222", "a:4222,b:4222", "tls://x:1, nats://y:2"} {
		if _, err := NATS(get(ok)); err != nil {
			t.Errorf("NATS(%q) = %v", ok, err)
		}
	}
	if u, _ := NATS(get("")); u != DefaultNATSURL {
		t.Errorf("default = %q", u)
	}
	for _, bad := range []string{"nats://", ",", "a:1,,b:2", "nats://a b:1"} {
		_, err := NATS(get(bad))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), NATSURL) {
			t.Errorf("NATS(%q) = %v, want an error naming %s", bad, err, NATSURL)
		}
	}
}

func TestBool(t *testing.T) {
	get := func(v string) func(string) string { return func(string) string { return v } }
	if b, err := Bool(get(""), OpenRooms, true); !b || err != nil {
		t.Errorf("unset: %v %v", b, err)
	}
	if b, err := Bool(get("false"), OpenRooms, true); b || err != nil {
		t.Errorf("false: %v %v", b, err)
	}
	if _, err := Bool(get("perhaps"), OpenRooms, false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), OpenRooms) {
		t.Errorf("perhaps: %v", err)
	}
}
