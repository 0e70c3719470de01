// Package natsembed starts an in-process NATS server with JetStream, for the
// all-in-one binary and for tests.
package natsembed

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an embedded server.
type Options struct {
	Host     string // listen host, e.g. 127.0.0.1
	Port     int    // listen port; -1 picks a free one
	StoreDir string // JetStream storage directory
	Name     string // server name, shown in monitoring and logs
}

// ErrNotReady is returned when the server does not accept connections in time.
var ErrNotReady = errors.New("natsembed: server not ready for connections")

// Start starts a server and waits until it accepts connections. The caller
// shuts it down with Shutdown and WaitForShutdown.
func Start(o Options) (*server.Server, error) {
	opts := &server.Options{
		ServerName: o.Name,
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("%w on %s:%d", ErrNotReady, o.Host, o.Port)
	}
	return s, nil
}
