package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/bucket"
	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// Bucket is the JetStream KV bucket that holds the rooms, one key per room
// id, each value a contract.Room as JSON.
const Bucket = "rooms"

// maxAttempts bounds the compare-and-set retries of one read-modify-write.
const maxAttempts = 32

var (
	// errNoRoom means the room does not exist.
	errNoRoom = errors.New("no such room")
	// errRoomExists means a room with that id already exists.
	errRoomExists = errors.New("room exists")
	// errContention means a read-modify-write kept losing to concurrent
	// writers of the same room until maxAttempts ran out.
	errContention = errors.New("too many concurrent updates")
)

// store keeps rooms in the KV bucket. The bucket is the only truth, so any
// number of stores, in any number of processes, may share it. A store with
// a cache records each of its writes in the cache once the bucket has
// stored it.
type store struct {
	kv    jetstream.KeyValue
	cache *roomCache // nil: access always reads the bucket
}

// openStore opens the bucket, creating it if it does not exist.
func openStore(ctx context.Context, js jetstream.JetStream) (*store, error) {
	kv, err := bucket.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Switchboard rooms and their members",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, err
	}
	return &store{kv: kv}, nil
}

// entry returns the room's current entry in the bucket, or errNoRoom.
func (s *store) entry(ctx context.Context, id string) (jetstream.KeyValueEntry, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("room %s: %w", id, errNoRoom)
	}
	if err != nil {
		return nil, fmt.Errorf("get room %s: %w", id, err)
	}
	return e, nil
}

// get returns the room and its revision, or errNoRoom.
func (s *store) get(ctx context.Context, id string) (*contract.Room, uint64, error) {
	e, err := s.entry(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	var room contract.Room
	if err := json.Unmarshal(e.Value(), &room); err != nil {
		return nil, 0, fmt.Errorf("decode room %s at revision %d: %w", id, e.Revision(), err)
	}
	return &room, e.Revision(), nil
}

// access returns what authorize needs to know about the room, or errNoRoom:
// from the cache while it is current, else from the bucket. A stored value
// that is not a room is an error, never errNoRoom.
func (s *store) access(ctx context.Context, id string) (*access, error) {
	if s.cache != nil {
		if a, ok := s.cache.lookup(id); ok {
			if a == nil {
				return nil, fmt.Errorf("room %s: %w", id, errNoRoom)
			}
			if a.err != nil {
				return nil, fmt.Errorf("decode room %s: %w", id, a.err)
			}
			return a, nil
		}
	}
	e, err := s.entry(ctx, id)
	if err != nil {
		return nil, err
	}
	a := decodeAccess(e.Value())
	if a.err != nil {
		return nil, fmt.Errorf("decode room %s at revision %d: %w", id, e.Revision(), a.err)
	}
	return a, nil
}

// generation returns the cache generation a write must record itself in.
func (s *store) generation() uint64 {
	if s.cache == nil {
		return 0
	}
	return s.cache.generation()
}

// remember records a room this store wrote at rev in the cache.
func (s *store) remember(gen, rev uint64, room *contract.Room) {
	if s.cache != nil {
		s.cache.put(gen, room.RoomID, rev, newAccess(room))
	}
}

// create stores a new room, or returns errRoomExists.
func (s *store) create(ctx context.Context, room *contract.Room) error {
	data, err := json.Marshal(room)
	if err != nil {
		return fmt.Errorf("encode room %s: %w", room.RoomID, err)
	}
	gen := s.generation()
	rev, err := s.kv.Create(ctx, room.RoomID, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("room %s: %w", room.RoomID, errRoomExists)
	}
	if err != nil {
		return fmt.Errorf("create room %s: %w", room.RoomID, err)
	}
	s.remember(gen, rev, room)
	return nil
}

// delete removes a room, or returns errNoRoom. Of two concurrent deletes of
// one room, one succeeds and the other sees errNoRoom.
func (s *store) delete(ctx context.Context, id string) error {
	for attempt := 0; ; attempt++ {
		gen := s.generation()
		_, rev, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		err = s.kv.Delete(ctx, id, jetstream.LastRevision(rev))
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			if err != nil {
				return fmt.Errorf("delete room %s: %w", id, err)
			}
			if s.cache != nil {
				s.cache.forget(gen, id, rev)
			}
			return nil
		}
		if err := backoff(ctx, id, attempt); err != nil {
			return err
		}
	}
}

// update applies change to the current room and stores the result if the
// room has not changed meanwhile, else starts again from the new current
// room. change reports whether it changed anything; when it did not, or
// when it returns an error, nothing is written. update returns the room as
// stored, or errNoRoom.
func (s *store) update(ctx context.Context, id string, change func(*contract.Room) (bool, error)) (*contract.Room, error) {
	for attempt := 0; ; attempt++ {
		gen := s.generation()
		room, rev, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		changed, err := change(room)
		if err != nil {
			return nil, err
		}
		if !changed {
			return room, nil
		}
		data, err := json.Marshal(room)
		if err != nil {
			return nil, fmt.Errorf("encode room %s: %w", id, err)
		}
		rev, err = s.kv.Update(ctx, id, data, rev)
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			if err != nil {
				return nil, fmt.Errorf("update room %s: %w", id, err)
			}
			s.remember(gen, rev, room)
			return room, nil
		}
		if err := backoff(ctx, id, attempt); err != nil {
			return nil, err
		}
	}
}

// backoff waits a short random time after a lost compare-and-set, so that
// writers of one room spread out, or returns an error once attempt is the
// last one or ctx is done.
func backoff(ctx context.Context, id string, attempt int) error {
	if attempt+1 >= maxAttempts {
		return fmt.Errorf("room %s: %w after %d attempts", id, errContention, maxAttempts)
	}
	wait := time.Duration(rand.Int64N(int64(min(attempt+1, 10)) * int64(time.Millisecond)))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("room %s: %w", id, context.Cause(ctx))
	case <-t.C:
		return nil
	}
}
