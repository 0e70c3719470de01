package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/cli"
	"github.com/switchboard-rtc/switchboard/shared/client"
)

// idleReport is the JSON line of the idle scenario.
type idleReport struct {
	header
	Conns       int     `json:"conns"` // asked for
	Size        int     `json:"size"`
	Opened      int64   `json:"opened"`        // welcomed
	SetupS      float64 `json:"setup_s"`       // from the first dial to the last welcome
	ConnsPerSec float64 `json:"conns_per_sec"` // opened / setup_s
	SetupUS     Latency `json:"setup_us"`      // one dial, to its welcome

	Errors map[string]int64 `json:"errors"`
	*serverFigures
	*idleServerFigures
}

// idleServerFigures are the --pid figures of the idle scenario.
type idleServerFigures struct {
	RSSBeforeKiB int64   `json:"server_rss_before_kib"` // before the first dial
	KiBPerConn   float64 `json:"kib_per_conn"`          // (server_rss_kib - server_rss_before_kib) / opened
}

type idle struct {
	*common
	conns, size, par int
	closing          atomic.Bool
}

func runIdle(ctx context.Context, args []string, env Env) error {
	fs, cf := newFlagSet("idle", "hold", 5*time.Second, "how long to hold the connections open once all are open")
	conns := fs.Int("conns", 1000, "connections")
	size := fs.Int("size", 2, "connections per room")
	par := fs.Int("concurrency", 50, "connections dialed at once")
	c, help, err := parse(fs, cf, args, env)
	if help || err != nil {
		return err
	}
	if *conns < 1 || *size < 1 || *par < 1 {
		return fmt.Errorf("%w: bench idle: want --conns, --size and --concurrency >= 1", cli.ErrUsage)
	}
	d := &idle{common: c, conns: *conns, size: *size, par: *par}
	return d.run(ctx)
}

// run opens the connections, waits until every room has settled, holds
// them open for --hold, and reads the server's memory before the first
// dial and at the end of the hold.
func (d *idle) run(ctx context.Context) error {
	before := d.sampleServer()
	var opened atomic.Int64
	var seen atomic.Int64 // joined packets and welcome participants, over all connections
	d.showProgress(func() string {
		return fmt.Sprintf("idle: opened %s/%s  errors %d", commas(opened.Load()), commas(int64(d.conns)), d.errs.total())
	})
	var readers sync.WaitGroup
	var setup Histogram
	start := time.Now()
	conns := d.dialAll(ctx, d.conns, d.par,
		func(i int) string { return fmt.Sprintf(idleRoom, d.runID, i/d.size) },
		func(i int) string { return fmt.Sprintf(idleUser, d.runID, i/d.size, i%d.size) },
		&setup,
		func(_ int, conn *client.Conn) {
			opened.Add(1)
			seen.Add(int64(len(conn.Welcome().Participants)))
			readers.Go(func() { d.read(conn, &seen) })
		})
	setupTime := time.Since(start)

	// Settled: every connection has heard of the others in its room.
	var want int64
	for r := 0; r < d.conns; r += d.size {
		n := int64(0)
		for _, c := range conns[r:min(r+d.size, d.conns)] {
			if c != nil {
				n++
			}
		}
		want += n * (n - 1)
	}
	deadline := time.Now().Add(peersTimeout)
	for ctx.Err() == nil && time.Now().Before(deadline) && seen.Load() < want {
		sleep(ctx.Done(), 10*time.Millisecond)
	}

	holdStart := time.Now()
	d.prog.set(func() string {
		return fmt.Sprintf("idle: holding %s connections  %.1fs/%s  errors %d",
			commas(opened.Load()), time.Since(holdStart).Seconds(), d.duration, d.errs.total())
	})
	sleep(ctx.Done(), d.duration)
	held := time.Since(holdStart)
	after := d.sampleServer()
	d.closing.Store(true)
	closeAll(conns)
	readers.Wait()

	n := opened.Load()
	rep := idleReport{
		header: d.header(ctx, held),
		Conns:  d.conns, Size: d.size,
		Opened:        n,
		SetupS:        seconds(setupTime),
		ConnsPerSec:   perSecond(n, setupTime),
		SetupUS:       setup.Summary(),
		Errors:        d.errs.snapshot(),
		serverFigures: serverBetween(before, after),
	}
	if rep.serverFigures != nil && n > 0 {
		rep.idleServerFigures = &idleServerFigures{
			RSSBeforeKiB: before.rssKiB,
			KiBPerConn:   math.Round(float64(after.rssKiB-before.rssKiB)/float64(n)*10) / 10,
		}
	}
	summary := fmt.Sprintf("idle: %s of %s connections open in %.1fs (%s/s, setup p50 %s p99 %s), held %.1fs",
		commas(n), commas(int64(d.conns)), rep.SetupS, commas(int64(rep.ConnsPerSec)), micros(rep.SetupUS.P50), micros(rep.SetupUS.P99), rep.ElapsedS)
	if rep.idleServerFigures != nil {
		summary += fmt.Sprintf("; server RSS %s → %s KiB, %.1f KiB per connection", commas(before.rssKiB), commas(after.rssKiB), rep.KiBPerConn)
	}
	return d.finish(ctx, rep, summary, n)
}

// read reads a connection's packets until it is closed, counting joins.
func (d *idle) read(c *client.Conn, seen *atomic.Int64) {
	for {
		p, err := c.Recv(context.Background())
		if err != nil {
			if !d.closing.Load() {
				d.errs.add(errorCode(err))
			}
			return
		}
		switch p.Type {
		case client.TypeJoined:
			seen.Add(1)
		case client.TypeError:
			d.errs.add(p.Code)
		}
	}
}
