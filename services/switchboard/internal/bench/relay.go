package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/cli"
	"github.com/switchboard-rtc/switchboard/shared/client"
)

// relayReport is the JSON line of the relay scenario.
type relayReport struct {
	header
	Rooms   int     `json:"rooms"`
	Size    int     `json:"size"`
	Payload int     `json:"payload"`
	Window  int     `json:"window"`
	Rate    float64 `json:"rate"`    // per client, 0 for no cap
	Clients int     `json:"clients"` // connections that took part

	Sent          int64   `json:"sent"`            // signals written
	Refused       int64   `json:"refused"`         // of those, answered with an error packet
	Deliveries    int64   `json:"deliveries"`      // (sent - refused) × receivers per signal: what was owed
	Received      int64   `json:"received"`        // deliveries that arrived, duplicates not counted
	SignalsPerSec float64 `json:"signals_per_sec"` // deliveries arrived per second while sending
	Lost          int64   `json:"lost"`            // deliveries - received, after the drain
	Reordered     int64   `json:"reordered"`       // arrived after a later signal of the same sender
	Duplicates    int64   `json:"duplicates"`      // arrived twice
	LatencyUS     Latency `json:"latency_us"`      // send to receive, one way

	Errors map[string]int64 `json:"errors"`
	*serverFigures
}

type relay struct {
	*common
	rooms, size, payload, window int
	rate                         float64
	par                          int
	closing                      atomic.Bool // set before the bench closes connections
}

// relayRoomState is one room of the relay: size clients, each sending to
// all the others.
type relayRoomState struct {
	clients []*relayClient
}

type relayClient struct {
	room *relayRoomState
	pos  int // place in the room, the src of its stamps
	conn *client.Conn

	sent    atomic.Int64 // by its sender: signals written
	refused atomic.Int64 // by its reader: error packets about its signals
	pause   atomic.Int64 // by its reader: run clock until which to hold off
	got     []atomic.Int64
	seen    atomic.Int64 // other connections it knows of
	dead    atomic.Bool  // its connection ended
	wake    chan struct{}

	// Owned by its reader; read once it has returned.
	seqs []sequence // per sender place
	lat  Histogram
}

func runRelay(ctx context.Context, args []string, env Env) error {
	fs, cf := newFlagSet("relay", "duration", 10*time.Second, "how long to send")
	rooms := fs.Int("rooms", 200, "rooms")
	size := fs.Int("size", 2, "clients per room; each sends to all the others")
	payload := fs.Int("payload", 1024, "bytes of signal data")
	window := fs.Int("window", 32, "signals per sender sent but not yet received by everyone in the room")
	rateCap := fs.Float64("rate", 0, "signals per second per client; 0 for as fast as the window allows")
	par := fs.Int("concurrency", 50, "connections dialed at once while setting up")
	c, help, err := parse(fs, cf, args, env)
	if help || err != nil {
		return err
	}
	switch {
	case *rooms < 1, *size < 2, *window < 1, *par < 1, *rateCap < 0:
		return fmt.Errorf("%w: bench relay: want --rooms >= 1, --size >= 2, --window >= 1, --concurrency >= 1, --rate >= 0", cli.ErrUsage)
	case *payload < 0 || *payload > 60<<10:
		return fmt.Errorf("%w: bench relay: --payload must be 0 to 61440 bytes", cli.ErrUsage)
	}
	r := &relay{common: c, rooms: *rooms, size: *size, payload: *payload, window: *window, rate: *rateCap, par: *par}
	return r.run(ctx)
}

func (r *relay) run(ctx context.Context) error {
	rooms := make([]*relayRoomState, r.rooms)
	for i := range rooms {
		rooms[i] = &relayRoomState{clients: make([]*relayClient, r.size)}
		for p := range r.size {
			rooms[i].clients[p] = &relayClient{
				room: rooms[i], pos: p,
				got:  make([]atomic.Int64, r.size),
				seqs: make([]sequence, r.size),
				wake: make(chan struct{}, 1),
			}
		}
	}
	var readers sync.WaitGroup
	var opened atomic.Int64
	r.showProgress(func() string {
		return fmt.Sprintf("relay: connecting %s/%s", commas(opened.Load()), commas(int64(r.rooms*r.size)))
	})
	var setup Histogram
	r.dialAll(ctx, r.rooms*r.size, r.par,
		func(i int) string { return fmt.Sprintf(relayRoom, r.runID, i/r.size) },
		func(i int) string { return fmt.Sprintf(relayUser, r.runID, i/r.size, i%r.size) },
		&setup,
		func(i int, conn *client.Conn) {
			cl := rooms[i/r.size].clients[i%r.size]
			cl.conn = conn
			cl.seen.Store(int64(len(conn.Welcome().Participants)))
			opened.Add(1)
			readers.Go(func() { r.read(cl) })
		})

	// A room with a failed dial sits out: its closes are not errors.
	var live []*relayRoomState
	var dropped []*client.Conn
	for _, rm := range rooms {
		full := true
		for _, cl := range rm.clients {
			full = full && cl.conn != nil
		}
		if full {
			live = append(live, rm)
			continue
		}
		for _, cl := range rm.clients {
			if cl.conn != nil {
				cl.dead.Store(true)
				dropped = append(dropped, cl.conn)
			}
		}
	}
	closeAll(dropped)

	// Wait until every client has heard of the rest of its room, so the
	// joined packets are behind us.
	deadline := time.Now().Add(peersTimeout)
	for ctx.Err() == nil && time.Now().Before(deadline) && !r.allPeers(live) {
		sleep(ctx.Done(), 10*time.Millisecond)
	}

	sendCtx, cancel := context.WithTimeout(ctx, r.duration)
	defer cancel()
	if len(live) == 0 {
		cancel() // nothing to send with
	}
	cpu0 := r.sampleServer()
	start := time.Now()
	var senders sync.WaitGroup
	if ctx.Err() == nil {
		for _, rm := range live {
			for _, cl := range rm.clients {
				senders.Go(func() { r.send(sendCtx, cl) })
			}
		}
	}
	r.prog.set(func() string {
		sent, got := r.totals(live)
		el := time.Since(start)
		return fmt.Sprintf("relay: %.1fs/%s  sent %s  received %s  %s/s  errors %d",
			el.Seconds(), r.duration, commas(sent), commas(got), commas(int64(perSecond(got, el))), r.errs.total())
	})
	<-sendCtx.Done()
	senders.Wait()
	elapsed := time.Since(start)
	_, gotWhileSending := r.totals(live)
	cpu1 := r.sampleServer()

	// Drain: wait for what is still in flight.
	deadline = time.Now().Add(drainTimeout)
	for time.Now().Before(deadline) && r.inFlight(live) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	r.closing.Store(true)
	var all []*client.Conn
	for _, rm := range live {
		for _, cl := range rm.clients {
			all = append(all, cl.conn)
		}
	}
	closeAll(all)
	readers.Wait()

	rep := relayReport{
		header: r.header(ctx, elapsed),
		Rooms:  r.rooms, Size: r.size, Payload: r.payload, Window: r.window, Rate: r.rate,
		Clients:       len(live) * r.size,
		SignalsPerSec: perSecond(gotWhileSending, elapsed),
		serverFigures: serverBetween(cpu0, cpu1),
	}
	var lat Histogram
	for _, rm := range live {
		for _, cl := range rm.clients {
			rep.Sent += cl.sent.Load()
			rep.Refused += cl.refused.Load()
			for _, s := range cl.seqs {
				rep.Received += s.Received
				rep.Reordered += s.Reordered
				rep.Duplicates += s.Duplicates
			}
			lat.Merge(&cl.lat)
		}
	}
	rep.Deliveries = (rep.Sent - rep.Refused) * int64(r.size-1)
	rep.Lost = rep.Deliveries - rep.Received
	rep.LatencyUS = lat.Summary()
	rep.Errors = r.errs.snapshot()
	return r.finish(ctx, rep, fmt.Sprintf("relay: %d clients in %d rooms, %.1fs: %s signals/s delivered, latency p50 %s p99 %s max %s, sent %s, lost %d, reordered %d, duplicates %d",
		rep.Clients, len(live), rep.ElapsedS, commas(int64(rep.SignalsPerSec)), micros(rep.LatencyUS.P50), micros(rep.LatencyUS.P99), micros(rep.LatencyUS.Max),
		commas(rep.Sent), rep.Lost, rep.Reordered, rep.Duplicates), rep.Received)
}

// allPeers reports whether every client knows of everyone else in its room.
func (r *relay) allPeers(rooms []*relayRoomState) bool {
	for _, rm := range rooms {
		for _, cl := range rm.clients {
			if cl.seen.Load() < int64(r.size-1) {
				return false
			}
		}
	}
	return true
}

// totals returns signals sent and deliveries received so far.
func (r *relay) totals(rooms []*relayRoomState) (sent, got int64) {
	for _, rm := range rooms {
		for _, cl := range rm.clients {
			sent += cl.sent.Load()
			for i := range cl.got {
				got += cl.got[i].Load()
			}
		}
	}
	return sent, got
}

func (r *relay) inFlight(rooms []*relayRoomState) int64 {
	var n int64
	for _, rm := range rooms {
		for _, cl := range rm.clients {
			n += max(cl.inFlight(), 0)
		}
	}
	return n
}

// inFlight is how many of c's signals have been neither refused nor
// received by every live receiver in its room.
func (c *relayClient) inFlight() int64 {
	acked := int64(math.MaxInt64)
	for _, o := range c.room.clients {
		if o != c && !o.dead.Load() {
			acked = min(acked, o.got[c.pos].Load())
		}
	}
	if acked == math.MaxInt64 || c.dead.Load() {
		return 0
	}
	return c.sent.Load() - c.refused.Load() - acked
}

// send writes signals until ctx ends, keeping at most r.window in flight,
// at most r.rate a second, and pausing after a rate_limited error.
func (r *relay) send(ctx context.Context, c *relayClient) {
	var lim *rate.Limiter
	if r.rate > 0 {
		lim = rate.NewLimiter(rate.Limit(r.rate), 1)
	}
	done := ctx.Done()
	buf := make([]byte, 0, r.payload+96)
	for seq := int64(1); ; seq++ {
		for c.inFlight() >= int64(r.window) {
			select {
			case <-done:
				return
			case <-c.wake:
			}
		}
		if d := c.pause.Load() - r.now(); d > 0 && !sleep(done, time.Duration(d)) {
			return
		}
		if lim != nil && lim.Wait(ctx) != nil {
			return
		}
		if ctx.Err() != nil || c.dead.Load() {
			return
		}
		buf = appendFrame(buf[:0], stamp{src: int64(c.pos), seq: seq, ts: r.now()}, r.payload)
		// No context on the write: the window keeps it from blocking, and
		// one cancelled mid-write would close the connection.
		if err := c.conn.SendRaw(context.Background(), buf); err != nil {
			if !r.closing.Load() && !c.dead.Load() {
				r.errs.add(errorCode(err))
			}
			return
		}
		c.sent.Add(1)
	}
}

// read reads c's frames until its connection ends: signals are checked
// against their sender's sequence and timed; error packets counted.
func (r *relay) read(c *relayClient) {
	defer func() {
		c.dead.Store(true)
		for _, o := range c.room.clients {
			notify(o.wake)
		}
	}()
	for {
		frame, err := c.conn.RecvRaw(context.Background())
		if err != nil {
			if !r.closing.Load() && !c.dead.Load() {
				r.errs.add(errorCode(err))
			}
			return
		}
		if st, ok := parseStamp(frame); ok && st.src >= 0 && st.src < int64(r.size) && st.src != int64(c.pos) {
			if c.seqs[st.src].Observe(st.seq) != seqDuplicate {
				c.lat.Record(r.now() - st.ts)
				c.got[st.src].Add(1)
				notify(c.room.clients[st.src].wake)
			}
			continue
		}
		p, err := client.Decode(frame)
		if err != nil {
			r.errs.add("malformed_packet")
			continue
		}
		switch p.Type {
		case client.TypeJoined:
			c.seen.Add(1)
		case client.TypeLeft:
			c.seen.Add(-1)
		case client.TypeError:
			r.errs.add(p.Code)
			if p.Code == client.CodeRateLimited {
				c.pause.Store(r.now() + int64(backoff))
			}
			c.refused.Add(1)
			notify(c.wake)
		}
	}
}
