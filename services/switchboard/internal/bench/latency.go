package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/cli"
	"github.com/switchboard-rtc/switchboard/shared/client"
)

// latencyReport is the JSON line of the latency scenario.
type latencyReport struct {
	header
	Count      int     `json:"count"` // round trips asked for
	Payload    int     `json:"payload"`
	Rate       float64 `json:"rate"`        // round trips per second, 0 for no cap
	RoundTrips int64   `json:"round_trips"` // completed
	LatencyUS  Latency `json:"latency_us"`  // one way, both directions
	RTTUS      Latency `json:"rtt_us"`      // ping sent to pong received

	Errors map[string]int64 `json:"errors"`
	*serverFigures
}

type latency struct {
	*common
	count   int
	payload int
	rate    float64
	closing atomic.Bool
}

func runLatency(ctx context.Context, args []string, env Env) error {
	fs, cf := newFlagSet("latency", "duration", 10*time.Second, "longest time to run (the run ends after --count round trips or this, whichever comes first)")
	count := fs.Int("count", 1000, "round trips")
	payload := fs.Int("payload", 256, "bytes of signal data")
	rateCap := fs.Float64("rate", 0, "round trips per second; 0 for one after the other")
	c, help, err := parse(fs, cf, args, env)
	if help || err != nil {
		return err
	}
	if *count < 1 || *payload < 0 || *payload > 60<<10 || *rateCap < 0 {
		return fmt.Errorf("%w: bench latency: want --count >= 1, --payload 0 to 61440, --rate >= 0", cli.ErrUsage)
	}
	l := &latency{common: c, count: *count, payload: *payload, rate: *rateCap}
	return l.run(ctx)
}

// run plays ping-pong between two clients, on the first two gateways of
// --url (or twice the one): a pings, b answers each ping at once, and the
// next ping goes when the pong is back. Both stamp what they send, so
// every signal gives a one-way latency.
func (l *latency) run(ctx context.Context) error {
	var trips atomic.Int64
	var ping, pong, rtt Histogram
	var elapsed time.Duration
	var cpu0, cpu1 *procSample
	a, b, err := l.connect(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.errs.add(errorCode(err))
		}
	} else {
		runCtx, cancel := context.WithTimeout(ctx, l.duration)
		defer cancel()
		cpu0 = l.sampleServer()
		start := time.Now()
		l.showProgress(func() string {
			return fmt.Sprintf("latency: %s/%s round trips  %.1fs/%s  errors %d",
				commas(trips.Load()), commas(int64(l.count)), time.Since(start).Seconds(), l.duration, l.errs.total())
		})
		var wg sync.WaitGroup
		wg.Go(func() { l.answer(b, &pong) })
		l.ping(runCtx, a, &ping, &rtt, &trips)
		elapsed = time.Since(start)
		cpu1 = l.sampleServer()
		l.closing.Store(true)
		closeAll([]*client.Conn{a, b})
		wg.Wait()
	}

	ping.Merge(&pong)
	rep := latencyReport{
		header: l.header(ctx, elapsed),
		Count:  l.count, Payload: l.payload, Rate: l.rate,
		RoundTrips:    trips.Load(),
		LatencyUS:     ping.Summary(),
		RTTUS:         rtt.Summary(),
		Errors:        l.errs.snapshot(),
		serverFigures: serverBetween(cpu0, cpu1),
	}
	return l.finish(ctx, rep, fmt.Sprintf("latency: %s round trips in %.1fs: one way p50 %s p90 %s p99 %s p99.9 %s max %s; round trip p50 %s",
		commas(rep.RoundTrips), rep.ElapsedS, micros(rep.LatencyUS.P50), micros(rep.LatencyUS.P90), micros(rep.LatencyUS.P99), micros(rep.LatencyUS.P999), micros(rep.LatencyUS.Max), micros(rep.RTTUS.P50)), rep.RoundTrips)
}

// connect opens the two clients, in one room, and waits until the first
// knows of the second.
func (l *latency) connect(ctx context.Context) (a, b *client.Conn, err error) {
	room := fmt.Sprintf(latencyRoom, l.runID)
	if a, err = l.dial(ctx, 0, room, fmt.Sprintf(latencyUser, l.runID, 0)); err != nil {
		return nil, nil, err
	}
	if b, err = l.dial(ctx, 1, room, fmt.Sprintf(latencyUser, l.runID, 1)); err != nil {
		_ = a.CloseNow()
		return nil, nil, err
	}
	if err = l.awaitPeer(ctx, a); err != nil {
		_, _ = a.CloseNow(), b.CloseNow()
		return nil, nil, err
	}
	return a, b, nil
}

// awaitPeer reads a's packets until it knows of the other client.
func (l *latency) awaitPeer(ctx context.Context, a *client.Conn) error {
	if len(a.Welcome().Participants) > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, peersTimeout)
	defer cancel()
	for {
		p, err := a.Recv(ctx)
		if err != nil {
			return err
		}
		if p.Type == client.TypeJoined {
			return nil
		}
	}
}

// ping sends l.count pings one after the other, each when the pong of the
// one before is back, until ctx ends.
func (l *latency) ping(ctx context.Context, a *client.Conn, oneWay, rtt *Histogram, trips *atomic.Int64) {
	var lim *rate.Limiter
	if l.rate > 0 {
		lim = rate.NewLimiter(rate.Limit(l.rate), 1)
	}
	fail := func(err error) {
		if ctx.Err() == nil && !l.closing.Load() {
			l.errs.add(errorCode(err))
		}
	}
	var buf []byte
	for seq := int64(1); seq <= int64(l.count); seq++ {
		if lim != nil && lim.Wait(ctx) != nil {
			return
		}
		sentAt := l.now()
		buf = appendFrame(buf[:0], stamp{src: 0, seq: seq, ts: sentAt}, l.payload)
		if err := a.SendRaw(ctx, buf); err != nil {
			fail(err)
			return
		}
		for back := false; !back; {
			frame, err := a.RecvRaw(ctx)
			if err != nil {
				fail(err)
				return
			}
			now := l.now()
			if st, ok := parseStamp(frame); ok {
				if st.src == 1 && st.seq == seq {
					oneWay.Record(now - st.ts)
					rtt.Record(now - sentAt)
					trips.Add(1)
					back = true
				}
				continue
			}
			if p, err := client.Decode(frame); err == nil && p.Type == client.TypeError {
				// The ping was refused: send it again, a little later.
				l.errs.add(p.Code)
				if !sleep(ctx.Done(), backoff) {
					return
				}
				sentAt = l.now()
				buf = appendFrame(buf[:0], stamp{src: 0, seq: seq, ts: sentAt}, l.payload)
				if err := a.SendRaw(ctx, buf); err != nil {
					fail(err)
					return
				}
			}
		}
	}
}

// answer sends a pong for every ping b receives, until b is closed.
func (l *latency) answer(b *client.Conn, oneWay *Histogram) {
	fail := func(err error) {
		if !l.closing.Load() {
			l.errs.add(errorCode(err))
		}
	}
	var buf []byte
	var seq int64
	for {
		frame, err := b.RecvRaw(context.Background())
		if err != nil {
			fail(err)
			return
		}
		now := l.now()
		if st, ok := parseStamp(frame); ok {
			if st.src != 0 {
				continue
			}
			oneWay.Record(now - st.ts)
			seq = st.seq
		} else if p, err := client.Decode(frame); err == nil && p.Type == client.TypeError && seq > 0 {
			// The pong was refused: send it again, a little later.
			l.errs.add(p.Code)
			time.Sleep(backoff)
		} else {
			continue
		}
		buf = appendFrame(buf[:0], stamp{src: 1, seq: seq, ts: l.now()}, l.payload)
		if err := b.SendRaw(context.Background(), buf); err != nil {
			fail(err)
			return
		}
	}
}
