package gateway

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// writes records each Write call that reaches the socket.
type writes struct {
	net.Conn
	calls []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

func TestCork(t *testing.T) {
	w := &writes{}
	c := &cork{Conn: w}

	c.Write([]byte("a"))
	if len(w.calls) != 1 {
		t.Fatalf("uncorked write gathered: %q", w.calls)
	}
	c.setCorked(true)
	c.Write([]byte("b"))
	c.Write([]byte("c"))
	if len(w.calls) != 1 {
		t.Fatalf("corked writes reached the socket: %q", w.calls)
	}
	c.setCorked(false)
	if len(w.calls) != 2 || w.calls[1] != "bc" {
		t.Fatalf("uncork wrote %q, want one call bc", w.calls)
	}
	c.setCorked(false) // nothing gathered: no call
	if len(w.calls) != 2 {
		t.Fatalf("empty uncork wrote: %q", w.calls)
	}

	// A batch past corkMax goes out in order, never more than corkMax at once.
	w.calls = nil
	c.setCorked(true)
	big := strings.Repeat("x", corkMax-10)
	c.Write([]byte("1"))
	c.Write([]byte(big))
	c.Write([]byte(strings.Repeat("y", corkMax+1))) // larger than a batch: straight through
	c.Write([]byte("2"))
	c.setCorked(false)
	var all bytes.Buffer
	for _, call := range w.calls {
		if len(call) > corkMax+1 {
			t.Fatalf("a write of %d bytes", len(call))
		}
		all.WriteString(call)
	}
	if want := "1" + big + strings.Repeat("y", corkMax+1) + "2"; all.String() != want {
		t.Fatalf("bytes out of order or lost: %d bytes, want %d", all.Len(), len(want))
	}
	if len(w.calls) != 3 {
		t.Fatalf("%d calls, want 3 (gathered, the large one, the rest)", len(w.calls))
	}
}
