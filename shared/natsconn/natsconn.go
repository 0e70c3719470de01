// Package natsconn connects a Switchboard binary to NATS the way every one
// of them needs: reconnecting for ever, logging disconnects and reconnects,
// and draining on the way out.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// DrainTimeout bounds how long Drain waits for in-flight messages.
const DrainTimeout = 10 * time.Second

// Conn is a NATS connection that knows when it has closed.
type Conn struct {
	*nats.Conn
	closed chan struct{}
}

// Connect connects to url (a comma-separated list for a cluster) as name,
// with opts after its own.
// The error names SWITCHBOARD_NATS_URL, where url comes from.
func Connect(url, name string, log *slog.Logger, opts ...nats.Option) (*Conn, error) {
	c := &Conn{closed: make(chan struct{})}
	nc, err := nats.Connect(url, append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.DrainTimeout(DrainTimeout),
		nats.ClosedHandler(func(*nats.Conn) { close(c.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", slog.Any("err", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", slog.String("nats_url", nc.ConnectedUrlRedacted()))
		}),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s (SWITCHBOARD_NATS_URL): %w", url, err)
	}
	c.Conn = nc
	return c, nil
}

// Drain drains the connection (subscriptions first, then what is still
// being published) and waits until it has closed.
func (c *Conn) Drain() error {
	if err := c.Conn.Drain(); err != nil {
		c.Close()
		return fmt.Errorf("drain NATS: %w", err)
	}
	select {
	case <-c.closed:
		return nil
	case <-time.After(DrainTimeout + time.Second):
		c.Close()
		return errors.New("drain NATS: timed out")
	}
}
