package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownTimeout bounds a graceful shutdown; a gateway exits within it.
const ShutdownTimeout = 12 * time.Second

// Serve serves g on ln until ctx is done, then shuts down in order: stop
// accepting, close sockets with 1001, wait for their leaves. It does not
// close g's NATS connection.
func Serve(ctx context.Context, g *Gateway, ln net.Listener, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errors.Join(err, g.Shutdown(context.Background()))
	case <-ctx.Done():
	}
	log.Info("gateway shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	// http.Server.Shutdown does not wait for hijacked WebSockets; the
	// gateway tracks and closes those itself.
	err := errors.Join(srv.Shutdown(sctx), g.Shutdown(sctx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
