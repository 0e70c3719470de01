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

// store keeps rooms in the KV bucket. It holds no state of its own, so any
// number of stores, in any number of processes, may share the bucket.
type store struct {
	kv jetstream.KeyValue
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

// get returns the room and its revision, or errNoRoom.
func (s *store) get(ctx context.Context, id string) (*contract.Room, uint64, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("room %s: %w", id, errNoRoom)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get room %s: %w", id, err)
	}
	var room contract.Room
	if err := json.Unmarshal(e.Value(), &room); err != nil {
		return nil, 0, fmt.Errorf("decode room %s at revision %d: %w", id, e.Revision(), err)
	}
	return &room, e.Revision(), nil
}

// create stores a new room, or returns errRoomExists.
func (s *store) create(ctx context.Context, room *contract.Room) error {
	data, err := json.Marshal(room)
	if err != nil {
		return fmt.Errorf("encode room %s: %w", room.RoomID, err)
	}
	_, err = s.kv.Create(ctx, room.RoomID, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("room %s: %w", room.RoomID, errRoomExists)
	}
	if err != nil {
		return fmt.Errorf("create room %s: %w", room.RoomID, err)
	}
	return nil
}

// delete removes a room, or returns errNoRoom. Of two concurrent deletes of
// one room, one succeeds and the other sees errNoRoom.
func (s *store) delete(ctx context.Context, id string) error {
	for attempt := 0; ; attempt++ {
		_, rev, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		err = s.kv.Delete(ctx, id, jetstream.LastRevision(rev))
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			if err != nil {
				return fmt.Errorf("delete room %s: %w", id, err)
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
		_, err = s.kv.Update(ctx, id, data, rev)
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			if err != nil {
				return nil, fmt.Errorf("update room %s: %w", id, err)
			}
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
