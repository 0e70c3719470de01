package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// How the watch loop keeps the cache fed.
const (
	// watchTimeout bounds starting a watch, and each probe.
	watchTimeout = 5 * time.Second
	// retryEvery is how long the loop waits before starting a watch again
	// after a failed start.
	retryEvery = time.Second
	// stallAfter is how long a watch may deliver nothing while a probe shows
	// that it is behind, before the loop replaces it.
	stallAfter = 3 * time.Second
)

// watcher keeps a roomCache current from a KV watch of the whole rooms
// bucket, deletions included. One goroutine (run) owns the watch; a probe
// runs beside it so that a slow JetStream API never holds up the updates.
//
// The loop starts a new watch, with a new, empty cache generation, when
// the watch's channel closes (its consumer could not be recreated, for
// example because the stream is gone), when NATS reconnects (the cache
// may have missed writes meanwhile; it stops answering at the disconnect),
// when a probe finds the bucket gone (the cache stops answering at once;
// the loop retries until the bucket is back), when the stream behind the
// bucket is not the one the watch started on (the bucket was deleted and
// created again), and when a probe shows the watch behind and it has
// delivered nothing for stallAfter (its consumer was deleted, say). Until
// the new watch has delivered its initial values, the cache does not
// answer and authorize reads the bucket.
type watcher struct {
	kv     jetstream.KeyValue
	cache  *roomCache
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// watching is one running KV watch.
type watching struct {
	kw      jetstream.KeyWatcher
	cancel  context.CancelFunc
	start   time.Time // just before the watch was asked for
	created time.Time // when the stream it watches was created
}

// probed is what a probe found.
type probed struct {
	probe
	created time.Time
	err     error
}

// startWatcher starts the loop that keeps cache current.
func startWatcher(kv jetstream.KeyValue, nc *nats.Conn, cache *roomCache, log *slog.Logger) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{kv: kv, cache: cache, log: log, cancel: cancel, done: make(chan struct{})}
	status := nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CONNECTED)
	go func() {
		defer close(w.done)
		defer nc.RemoveStatusListener(status)
		w.run(ctx, status)
	}()
	return w
}

// stop stops the loop and its watch, and waits for the loop to end.
func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

func (w *watcher) run(ctx context.Context, status <-chan nats.Status) {
	var (
		cur      *watching // nil between watches
		retry    = time.NewTimer(0)
		tick     = time.NewTicker(probeEvery)
		results  = make(chan probed, 1)
		probing  bool
		advanced time.Time // when the current watch last delivered
		failing  bool      // a problem was logged and recovery is not yet
	)
	defer retry.Stop()
	defer tick.Stop()
	drop := func(reason string, attrs ...any) {
		if !failing {
			w.log.Warn("rooms cache: "+reason+"; reading the bucket until it is watched again", attrs...)
			failing = true
		}
		if cur != nil {
			cur.stop()
			cur = nil
		}
	}
	defer func() {
		if cur != nil {
			cur.stop()
		}
	}()
	for {
		var updates <-chan jetstream.KeyValueEntry
		if cur != nil {
			updates = cur.kw.Updates()
		}
		select {
		case <-ctx.Done():
			return

		case <-retry.C:
			if cur != nil {
				continue
			}
			next, err := w.watch(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				drop("cannot watch the bucket", slog.Any("err", err))
				retry.Reset(retryEvery)
				continue
			}
			cur, advanced = next, time.Now()

		case e, ok := <-updates:
			if !ok {
				// Closed when ctx is done, or when the subscription ends
				// because its consumer could not be recreated.
				if ctx.Err() != nil {
					return
				}
				drop("the watch ended")
				retry.Reset(0)
				continue
			}
			advanced = time.Now()
			if e == nil {
				w.cache.initialDone(cur.start)
				if failing {
					w.log.Info("rooms cache: watching the bucket again")
					failing = false
				}
				continue
			}
			var room *access
			if e.Operation() == jetstream.KeyValuePut {
				room = decodeAccess(e.Value())
			}
			w.cache.watched(e.Key(), e.Revision(), room)

		case s := <-status:
			if s != nats.CONNECTED {
				w.cache.distrust()
				continue
			}
			drop("NATS reconnected")
			retry.Reset(0)

		case <-tick.C:
			if cur != nil && !probing {
				probing = true
				go func() { results <- w.probe(ctx) }()
			}

		case r := <-results:
			probing = false
			switch {
			case cur == nil:
			case errors.Is(r.err, jetstream.ErrStreamNotFound):
				w.cache.distrust()
				drop("the bucket is gone")
				retry.Reset(retryEvery)
			case r.err != nil:
				// Without a probe the cache is not verified, so it stops
				// answering after maxStale; the watch itself may be fine.
				w.log.Debug("rooms cache: probe failed", slog.Any("err", r.err))
			case !r.created.Equal(cur.created):
				drop("the bucket was created again")
				retry.Reset(0)
			case !w.cache.observe(r.probe) && time.Since(advanced) > stallAfter:
				drop("the watch is not delivering", slog.Uint64("revision", r.seq))
				retry.Reset(0)
			}
		}
	}
}

// watch empties the cache and starts a new watch of every key.
func (w *watcher) watch(ctx context.Context) (*watching, error) {
	sctx, cancel := context.WithTimeout(ctx, watchTimeout)
	info, err := w.stream(sctx)
	cancel()
	if err != nil {
		return nil, err
	}
	w.cache.reset(info.State.LastSeq)
	start := time.Now()
	// The watch lives until wctx is cancelled; the timer bounds only its
	// start.
	wctx, wcancel := context.WithCancel(ctx)
	timer := time.AfterFunc(watchTimeout, wcancel)
	kw, err := w.kv.WatchAll(wctx)
	timer.Stop()
	if err != nil {
		wcancel()
		return nil, fmt.Errorf("watch bucket %s: %w", Bucket, err)
	}
	return &watching{kw: kw, cancel: wcancel, start: start, created: info.Created}, nil
}

// probe reads the bucket's newest revision.
func (w *watcher) probe(ctx context.Context) probed {
	ctx, cancel := context.WithTimeout(ctx, watchTimeout)
	defer cancel()
	start := time.Now()
	info, err := w.stream(ctx)
	if err != nil {
		return probed{err: err}
	}
	return probed{probe: probe{start: start, seq: info.State.LastSeq}, created: info.Created}
}

// stream returns the info of the stream behind the bucket.
func (w *watcher) stream(ctx context.Context) (*jetstream.StreamInfo, error) {
	st, err := w.kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("bucket %s status: %w", Bucket, err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return nil, errors.New("bucket " + Bucket + " is not backed by a stream")
	}
	return bs.StreamInfo(), nil
}

// stop ends the watch. Its channel is drained until it closes, so that a
// delivery blocked on the full channel can finish and the subscription
// can end.
func (c *watching) stop() {
	c.cancel()
	_ = c.kw.Stop()
	go func() {
		for range c.kw.Updates() {
		}
	}()
}
