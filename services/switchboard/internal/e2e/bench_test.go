package e2e

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/services/gateway"
)

const candidate = `{"kind":"candidate","candidate":"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EEtu network-cost 999","sdpMid":"0","sdpMLineIndex":0}`

// benchRelay measures the hot path: a frame in, a NATS publish, fan-out to
// receivers, frames out. Each op is one signal delivered to every receiver.
func benchRelay(b *testing.B, receivers int, twoGateways bool) {
	c := newCluster(b, options{openRooms: true})
	cfg := gateway.Config{RatePerSecond: -1, BytesPerSecond: -1, SendQueueBytes: 4 << 20}
	g1 := c.gateway(cfg)
	g2 := g1
	if twoGateways {
		g2 = c.gateway(cfg)
	}
	room := fmt.Sprintf("bench%d", receivers)
	sender, _ := g1.native(b, room, "sender")
	rs := make([]*client, receivers)
	for i := range rs {
		rs[i], _ = g2.native(b, room, fmt.Sprintf("r%d", i))
	}
	// Drain the joined events before timing.
	for i := range rs {
		for range receivers - 1 - i {
			rs[i].expect("joined")
		}
	}
	for range receivers {
		sender.expect("joined")
	}
	frame := []byte(`{"type":"signal","data":` + candidate + `}`)

	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for range b.N {
			if err := sender.ws.Write(ctx, websocket.MessageText, frame); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	done := make(chan struct{}, receivers)
	for _, r := range rs {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for range b.N {
				if _, _, err := r.ws.Read(ctx); err != nil {
					break
				}
			}
			done <- struct{}{}
		}()
	}
	for range receivers {
		<-done
	}
	b.StopTimer()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*receivers)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkRelayOneGateway(b *testing.B)    { benchRelay(b, 1, false) }
func BenchmarkRelayTwoGateways(b *testing.B)   { benchRelay(b, 1, true) }
func BenchmarkFanout10OneGateway(b *testing.B) { benchRelay(b, 10, false) }

// BenchmarkJoin measures the join path: HTTP upgrade with token check,
// membership authorize, presence join, welcome; then close (presence leave).
func BenchmarkJoin(b *testing.B) {
	c := newCluster(b, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	url := g.ws("/v1/rooms/joinbench/ws?access_token=" + token(b, "alice"))
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			b.Fatal(err)
		}
		ws.Close(websocket.StatusNormalClosure, "")
	}
}

// BenchmarkIdleConnectionMemory opens b.N idle connections (rooms of two)
// and reports the heap held per connection. The clients live in the same
// process, so the figure includes their side too: an upper bound.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	c := newCluster(b, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	before := heapInUse()
	b.ResetTimer()
	for i := range b.N {
		g.native(b, fmt.Sprintf("idle%d", i/2), "u")
	}
	b.StopTimer()
	b.ReportMetric(float64(heapInUse()-before)/float64(b.N), "heapB/conn")
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkRoomFill fills one room to 1,000 connections, one join at a
// time, and reports the mean time of the first ten joins and of the last
// ten (dial, token check, authorize, presence join, welcome read). Each
// join's welcome lists everyone before it, and everyone before it is told
// joined, so the last joins carry more: the figure says how much.
func BenchmarkRoomFill(b *testing.B) {
	const size = 1000
	for range b.N {
		b.StopTimer()
		c := newCluster(b, options{openRooms: true})
		g := c.gateway(gateway.Config{})
		room := fmt.Sprintf("fill%d", time.Now().UnixNano())
		url := g.ws("/v1/rooms/" + room + "/ws?access_token=" + token(b, "u"))
		ctx := context.Background()
		var first, last time.Duration
		conns := make([]*websocket.Conn, 0, size)
		b.StartTimer()
		for i := range size {
			start := time.Now()
			ws, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			ws.SetReadLimit(1 << 22)
			if _, _, err := ws.Read(ctx); err != nil {
				b.Fatal(err)
			}
			d := time.Since(start)
			switch {
			case i < 10:
				first += d
			case i >= size-10:
				last += d
			}
			// Nobody reads the joined events: the clients let them queue
			// in their socket buffers, as an idle page would not, but the
			// gateway's cost of sending them is paid all the same.
			conns = append(conns, ws)
		}
		b.StopTimer()
		b.ReportMetric(float64(first.Microseconds())/10, "first10-us/join")
		b.ReportMetric(float64(last.Microseconds())/10, "last10-us/join")
		b.ReportMetric(float64(last)/float64(first), "last/first")
		for _, ws := range conns {
			ws.CloseNow()
		}
	}
}
