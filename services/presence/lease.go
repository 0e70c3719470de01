package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/roomid"
)

// leaseCache remembers when this instance last wrote each lease key, so
// that a join under a lease known to be alive writes nothing for it.
//
// A lease key written at t cannot be reaped before t+LeaseTTL: the reaper
// deletes only leases not written for longer than that, guarded by the
// revision it saw. So a join within half of LeaseTTL of our own write may
// rely on the key being there, with the other half as a margin for clock
// differences between the instances and the NATS server. Writes by other
// instances are not seen here; they only make the cache more cautious than
// it needs to be.
type leaseCache struct {
	fresh time.Duration

	mu      sync.Mutex
	written map[string]time.Time // lease -> when we last started writing it
	prune   int                  // size of written at which stale leases are dropped
}

func newLeaseCache(ttl time.Duration) *leaseCache {
	return &leaseCache{fresh: ttl / 2, written: map[string]time.Time{}, prune: 64}
}

// alive reports whether lease was written by this instance recently enough
// that its key must still exist.
func (c *leaseCache) alive(lease string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.written[lease]
	return ok && now.Sub(at) < c.fresh
}

// wrote records that a write of lease, started at at, succeeded.
func (c *leaseCache) wrote(lease string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.written[lease]; ok && prev.After(at) {
		return
	}
	c.written[lease] = at
	if len(c.written) >= c.prune {
		for l, t := range c.written {
			if at.Sub(t) >= c.fresh {
				delete(c.written, l)
			}
		}
		c.prune = max(64, 2*len(c.written))
	}
}

// forget drops lease, whose key this instance deleted.
func (c *leaseCache) forget(lease string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.written, lease)
}

// ensureLease makes sure lease's key exists before a join registers an
// entry under it: nothing to do when this instance wrote it moments ago,
// otherwise it is put (created, or renewed).
func (s *Service) ensureLease(ctx context.Context, lease, gatewayID string) error {
	now := time.Now()
	if s.leases.alive(lease, now) {
		return nil
	}
	data, err := json.Marshal(leaseValue{GatewayID: gatewayID})
	if err != nil {
		return fmt.Errorf("encode %s: %w", leaseKey(lease), err)
	}
	if _, err := s.kv.Put(ctx, leaseKey(lease), data); err != nil {
		return fmt.Errorf("put %s: %w", leaseKey(lease), err)
	}
	s.leases.wrote(lease, now)
	return nil
}

// renewLease puts lease and reports whether it existed before. When it
// existed, the put is guarded by the revision read, so a lease the reaper
// deleted in between is reported as not renewed.
func (s *Service) renewLease(ctx context.Context, lease, gatewayID string) (bool, error) {
	key := leaseKey(lease)
	data, err := json.Marshal(leaseValue{GatewayID: gatewayID})
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", key, err)
	}
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := jitter(ctx, attempt); err != nil {
				return false, fmt.Errorf("%s: %w", key, err)
			}
		}
		now := time.Now()
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err := s.kv.Put(ctx, key, data); err != nil {
				return false, fmt.Errorf("put %s: %w", key, err)
			}
			s.leases.wrote(lease, now)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get %s: %w", key, err)
		}
		_, err = s.kv.Update(ctx, key, data, e.Revision())
		if isConflict(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("update %s: %w", key, err)
		}
		s.leases.wrote(lease, now)
		return true, nil
	}
	return false, fmt.Errorf("%s: %w", key, errBusy)
}

// leaseGone reports whether lease's key is absent (never put, or deleted).
func (s *Service) leaseGone(ctx context.Context, lease string) (bool, error) {
	if !roomid.Valid(lease) {
		return true, nil // cannot be a key: nothing keeps it alive
	}
	_, err := s.kv.Get(ctx, leaseKey(lease))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s: %w", leaseKey(lease), err)
	}
	return false, nil
}
