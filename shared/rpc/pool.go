package rpc

import (
	"sync"

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
type Pool struct {
	sem chan struct{}
	wg  sync.WaitGroup
}

// NewPool returns a pool that runs at most n handlers at once (n < 1: 1).
func NewPool(n int) *Pool {
	return &Pool{sem: make(chan struct{}, max(n, 1))}
}

// Concurrent returns h run on the pool.
func (p *Pool) Concurrent(h micro.Handler) micro.Handler {
	return micro.HandlerFunc(func(r micro.Request) {
		p.sem <- struct{}{}
		p.wg.Add(1)
		go func() {
			defer func() {
				<-p.sem
				p.wg.Done()
			}()
			h.Handle(r)
		}()
	})
}

// Wait waits for every handler started so far. Call it after the service
// stopped taking requests, so that their replies go out before the
// connection is drained.
func (p *Pool) Wait() { p.wg.Wait() }
