package presence

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// BenchmarkJoinLeave measures one join and one leave through NATS, against
// an embedded server, in a room that holds ten other participants.
func BenchmarkJoinLeave(b *testing.B) {
	s := natstest.Server(b)
	startService(b, s, Config{}, nil)
	nc := natstest.Connect(b, s)
	for i := range 10 {
		join(b, nc, "bench", "resident"+strconv.Itoa(i), "u", "L1")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		conn := "c" + strconv.Itoa(i)
		i++
		if rep := join(b, nc, "bench", conn, "u", "L1"); len(rep.Participants) != 10 {
			b.Fatalf("join saw %d participants, want 10", len(rep.Participants))
		}
		if !leave(b, nc, "bench", conn, "") {
			b.Fatal("leave removed nothing")
		}
	}
}

// BenchmarkJoinLeaveParallel is BenchmarkJoinLeave from many callers at
// once, all in the same room, against one instance: how many joins (each
// with its leave) one instance serves per second.
func BenchmarkJoinLeaveParallel(b *testing.B) {
	s := natstest.Server(b)
	startService(b, s, Config{}, nil)
	nc := natstest.Connect(b, s)
	for i := range 10 {
		join(b, nc, "bench", "resident"+strconv.Itoa(i), "u", "L1")
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			conn := "p" + strconv.FormatInt(next.Add(1), 10)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var rep contract.JoinReply
			err := rpc.Call(ctx, nc, subject.PresenceJoin, contract.JoinRequest{
				RoomID:      "bench",
				Participant: contract.Participant{ConnectionID: conn, User: contract.User{ID: "u"}, GatewayID: "gw-L1"},
				Lease:       "L1",
			}, &rep)
			if err == nil {
				err = rpc.Call(ctx, nc, subject.PresenceLeave, contract.LeaveRequest{RoomID: "bench", ConnectionID: conn}, nil)
			}
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load())/time.Since(start).Seconds(), "joins/s")
}

// BenchmarkFillRoom1000 fills a room with 1,000 participants, one join
// after the other, and reports what the first ten joins and the last ten
// cost each (first10-ns/join, last10-ns/join) and their ratio. A join's
// reply lists everyone already there, so the last joins carry 990 to 999
// participants back; list1000-ns/op is what listing the full room costs,
// the part of a late join that no storage layout can remove.
func BenchmarkFillRoom1000(b *testing.B) {
	const size, sample = 1000, 10
	s := natstest.Server(b)
	startService(b, s, Config{}, nil)
	nc := natstest.Connect(b, s)
	// Keep the lease alive the way a gateway does.
	beat, stop := context.WithCancel(context.Background())
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			_ = rpc.Call(beat, nc, subject.PresenceHeartbeat, contract.HeartbeatRequest{GatewayID: "gw-L1", Lease: "L1"}, nil)
			select {
			case <-beat.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { stop(); <-beating }()
	var first, last, listed time.Duration
	rooms := 0
	for b.Loop() {
		room := "fill" + strconv.Itoa(rooms)
		rooms++
		for i := range size {
			t0 := time.Now()
			rep := join(b, nc, room, "c"+strconv.Itoa(i), "u"+strconv.Itoa(i), "L1")
			d := time.Since(t0)
			if len(rep.Participants) != i {
				b.Fatalf("join %d saw %d participants", i+1, len(rep.Participants))
			}
			switch {
			case i < sample:
				first += d
			case i >= size-sample:
				last += d
			}
		}
		t0 := time.Now()
		for range sample {
			if got := list(b, nc, room); len(got) != size {
				b.Fatalf("list has %d participants, want %d", len(got), size)
			}
		}
		listed += time.Since(t0)
	}
	n := float64(rooms * sample)
	b.ReportMetric(float64(first.Nanoseconds())/n, "first10-ns/join")
	b.ReportMetric(float64(last.Nanoseconds())/n, "last10-ns/join")
	b.ReportMetric(float64(last)/float64(first), "last/first")
	b.ReportMetric(float64(listed.Nanoseconds())/n, "list1000-ns/op")
}

// BenchmarkReplyCodec1000 encodes a join reply listing 999 participants, as
// presence does, and decodes it, as a gateway does: the part of a join into
// a room of 1,000 that grows with the room whatever presence stores.
func BenchmarkReplyCodec1000(b *testing.B) {
	rep := contract.JoinReply{Revision: 5000}
	now := time.Now().UTC()
	for i := range 999 {
		rep.Participants = append(rep.Participants, contract.Participant{
			ConnectionID: "c_Hq81vXe0aJ3mT5uWc" + strconv.Itoa(1000+i),
			User:         contract.User{ID: "u" + strconv.Itoa(i)},
			GatewayID:    "gw-L1",
			JoinedAt:     now.Add(time.Duration(i) * time.Millisecond),
			Revision:     uint64(1000 + i),
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		data, err := json.Marshal(&rep)
		if err != nil {
			b.Fatal(err)
		}
		var got contract.JoinReply
		if err := json.Unmarshal(data, &got); err != nil || len(got.Participants) != 999 {
			b.Fatalf("decoded %d participants: %v", len(got.Participants), err)
		}
	}
}
