package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// benchRoom stores a members room with n members (the owner and n-1 others)
// directly in the bucket, waits until the instance lets its last member in,
// and returns the authorize request for that member: the one a scan of the
// member list finds last.
func benchRoom(b *testing.B, nc *nats.Conn, n int) []byte {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, Bucket)
	if err != nil {
		b.Fatal(err)
	}
	room := contract.Room{RoomID: fmt.Sprintf("bench-%d", n), OwnerID: "owner", Policy: contract.PolicyMembers, CreatedAt: time.Now().UTC()}
	room.Members = append(room.Members, owner("owner"))
	for i := 1; i < n; i++ {
		room.Members = append(room.Members, member(fmt.Sprintf("user-%06d", i)))
	}
	if _, err := kv.Put(ctx, room.RoomID, []byte(mustJSON(room))); err != nil {
		b.Fatal(err)
	}
	req := []byte(mustJSON(contract.AuthorizeRequest{RoomID: room.RoomID, UserID: room.Members[n-1].UserID}))
	poll.Until(b, 5*time.Second, "the instance to let the last member in", func() bool {
		var rep contract.AuthorizeReply
		err := rpc.Call(ctx, nc, subject.MembershipAuthorize, json.RawMessage(req), &rep)
		return err == nil && rep.Allowed
	})
	return req
}

// BenchmarkAuthorize measures one membership.authorize round trip over NATS
// (client and service in this process, on an embedded server) for a
// members room of 10 and of 1,000 members. Allocations count both sides.
func BenchmarkAuthorize(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			s := natstest.Server(b)
			startService(b, natstest.Connect(b, s), Config{})
			nc := natstest.Connect(b, s)
			req := benchRoom(b, nc, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				var rep contract.AuthorizeReply
				if err := rpc.Call(ctx, nc, subject.MembershipAuthorize, json.RawMessage(req), &rep); err != nil || !rep.Allowed {
					b.Fatalf("authorize: %+v, %v", rep, err)
				}
			}
		})
	}
}

// BenchmarkAuthorizeParallel is BenchmarkAuthorize with requests in flight
// from GOMAXPROCS goroutines at once, each on its own connection, against
// one instance.
func BenchmarkAuthorizeParallel(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			s := natstest.Server(b)
			startService(b, natstest.Connect(b, s), Config{})
			req := benchRoom(b, natstest.Connect(b, s), n)
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				nc, err := nats.Connect(s.ClientURL())
				if err != nil {
					b.Error(err)
					return
				}
				defer nc.Close()
				ctx := context.Background()
				for pb.Next() {
					var rep contract.AuthorizeReply
					if err := rpc.Call(ctx, nc, subject.MembershipAuthorize, json.RawMessage(req), &rep); err != nil || !rep.Allowed {
						b.Errorf("authorize: %+v, %v", rep, err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCacheMemory reports the heap a cache holds per room and per
// member, for rooms stored as this service stores them, with member ids of
// 36 bytes (a UUID). Room ids are 8 bytes.
func BenchmarkCacheMemory(b *testing.B) {
	for _, size := range []struct{ rooms, members int }{{10_000, 1}, {10_000, 8}, {10_000, 9}, {1_000, 100}, {100, 1_000}} {
		b.Run(fmt.Sprintf("rooms=%d/members=%d", size.rooms, size.members), func(b *testing.B) {
			values := make([][]byte, size.rooms)
			for i := range values {
				room := contract.Room{RoomID: fmt.Sprintf("r%07d", i), OwnerID: fmt.Sprintf("%036d", 0), Policy: contract.PolicyMembers, CreatedAt: time.Now().UTC()}
				room.Members = append(room.Members, owner(room.OwnerID))
				for j := 1; j < size.members; j++ {
					room.Members = append(room.Members, member(fmt.Sprintf("%08d-0000-0000-0000-%012d", i, j)))
				}
				values[i] = []byte(mustJSON(room))
			}
			var perRoom float64
			for b.Loop() {
				before := heapInUse()
				c := newRoomCache()
				c.reset(0)
				for i, v := range values {
					c.watched(fmt.Sprintf("r%07d", i), uint64(i+1), decodeAccess(v))
				}
				perRoom = float64(heapInUse()-before) / float64(size.rooms)
				runtime.KeepAlive(c)
			}
			b.ReportMetric(perRoom, "B/room")
			b.ReportMetric(perRoom/float64(size.members), "B/member")
		})
	}
}

// heapInUse returns the bytes of live heap objects after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
