package rpc

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// DefaultConcurrency is how many requests one service instance serves at
// once when its handlers run through a Pool.
const DefaultConcurrency = 256

// Pool runs request handlers concurrently, at most a fixed number at a time.
//
// A micro endpoint calls its handler on the subscription's one goroutine, so
// a handler that waits on JetStream holds up every request behind it. A Pool
// lets an instance overlap those waits; when it is full, the subscription
// waits, and its pending buffer absorbs the burst.
//
// Two things about micro shape it. micro reads what a request's answer did
// (for the error count of $SRV.STATS) as soon as the handler returns, which
// with a pool is before the answer is sent: so a pooled request is answered
// through a detached copy that replies on the connection directly, and
// $SRV.STATS counts such requests but not their errors, and their
// processing time is only the hand-over. And micro's Stop drains the
// endpoint subscriptions in the background, so requests may still arrive
// after it returns: once the pool is stopped, they are served in the
// subscription's goroutine, as without a pool, and draining the connection
// waits for them.
type Pool struct {
	nc  *nats.Conn
	sem chan struct{}
	wg  sync.WaitGroup

	mu      sync.RWMutex
	stopped bool
}

// NewPool returns a pool that answers on nc and runs at most n handlers at
// once (n < 1: 1).
func NewPool(nc *nats.Conn, n int) *Pool {
	return &Pool{nc: nc, sem: make(chan struct{}, max(n, 1))}
}

// Concurrent returns h run on the pool.
func (p *Pool) Concurrent(h micro.Handler) micro.Handler {
	return micro.HandlerFunc(func(r micro.Request) {
		p.mu.RLock()
		if p.stopped {
			p.mu.RUnlock()
			h.Handle(r)
			return
		}
		d := detach(p.nc, r)
		p.sem <- struct{}{}
		p.wg.Add(1)
		p.mu.RUnlock()
		go func() {
			defer func() {
				<-p.sem
				p.wg.Done()
			}()
			h.Handle(d)
		}()
	})
}

// Stop makes later requests run in their subscription's goroutine and waits
// for every handler the pool started. Call it after the service stopped
// taking requests, so that their answers go out before the connection is
// drained.
func (p *Pool) Stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.wg.Wait()
}

// detached is a copy of a micro request that answers through the
// connection directly, exactly as micro's own request does (the same
// message for a response, the same headers for an error).
type detached struct {
	nc             *nats.Conn
	subject, reply string
	data           []byte
	headers        micro.Headers
}

func detach(nc *nats.Conn, r micro.Request) *detached {
	return &detached{nc: nc, subject: r.Subject(), reply: r.Reply(), data: r.Data(), headers: r.Headers()}
}

func (d *detached) Data() []byte           { return d.data }
func (d *detached) Headers() micro.Headers { return d.headers }
func (d *detached) Subject() string        { return d.subject }
func (d *detached) Reply() string          { return d.reply }

func (d *detached) Respond(data []byte, opts ...micro.RespondOpt) error {
	return d.send(&nats.Msg{Data: data}, opts)
}

func (d *detached) RespondJSON(v any, opts ...micro.RespondOpt) error {
	data, err := json.Marshal(v)
	if err != nil {
		return micro.ErrMarshalResponse
	}
	return d.Respond(data, opts...)
}

func (d *detached) Error(code, description string, data []byte, opts ...micro.RespondOpt) error {
	if code == "" {
		return fmt.Errorf("%w: error code", micro.ErrArgRequired)
	}
	if description == "" {
		return fmt.Errorf("%w: description", micro.ErrArgRequired)
	}
	return d.send(&nats.Msg{
		Header: nats.Header{micro.ErrorHeader: {description}, micro.ErrorCodeHeader: {code}},
		Data:   data,
	}, opts)
}

func (d *detached) send(m *nats.Msg, opts []micro.RespondOpt) error {
	for _, opt := range opts {
		opt(m)
	}
	if d.reply == "" {
		return fmt.Errorf("%w: %w", micro.ErrRespond, nats.ErrMsgNoReply)
	}
	m.Subject = d.reply
	if err := d.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("%w: %w", micro.ErrRespond, err)
	}
	return nil
}
