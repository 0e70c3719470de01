package gateway

import (
	"net"
	"sync"
)

// cork sits between a connection's write buffer and its socket. While
// corked, what the WebSocket library flushes is gathered instead of
// written; uncorking writes it all with one call. The writer corks around
// a batch of queued frames, so a busy receiver costs one system call per
// batch rather than one per frame; control frames the library writes on
// its own (pongs, the close frame) pass straight through when uncorked.
type cork struct {
	net.Conn

	mu     sync.Mutex
	corked bool
	buf    *[]byte // while gathering
}

// corkMax bounds what one batch gathers before it is written anyway.
const corkMax = 64 << 10

func (c *cork) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.buf != nil && len(*c.buf)+len(p) > corkMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) > corkMax {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

// setCorked corks or uncorks; uncorking writes what was gathered.
func (c *cork) setCorked(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = on
	if on {
		return nil
	}
	return c.flushLocked()
}

func (c *cork) flushLocked() error {
	if c.buf == nil {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	corkBufs.Put(c.buf)
	c.buf = nil
	return err
}

// corkBufs holds batch buffers, so that idle connections hold none.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}
