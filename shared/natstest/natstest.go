// Package natstest gives tests a real embedded NATS server with JetStream
// and connections to it, cleaned up when the test ends.
package natstest

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/switchboard-rtc/switchboard/shared/natsembed"
)

// Server starts a server on a free loopback port with JetStream stored in a
// temporary directory.
func Server(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := natsembed.Start(natsembed.Options{Host: "127.0.0.1", Port: -1, StoreDir: tb.TempDir(), Name: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect returns a connection to s, closed when the test ends.
func Connect(tb testing.TB, s *server.Server, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	return ConnectURL(tb, s.ClientURL(), opts...)
}

// ConnectURL returns a connection to the server at url, closed when the
// test ends.
func ConnectURL(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}
