package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/cli"
)

// joinReport is the JSON line of the join scenario.
type joinReport struct {
	header
	Concurrency int     `json:"concurrency"`
	RoomMode    string  `json:"room_mode"`     // shared or unique
	Joins       int64   `json:"joins"`         // welcomes read
	JoinsPerSec float64 `json:"joins_per_sec"` // joins / elapsed_s
	LatencyUS   Latency `json:"latency_us"`    // dial to welcome

	Errors map[string]int64 `json:"errors"`
	*serverFigures
}

type join struct {
	*common
	workers int
	shared  bool
}

func runJoin(ctx context.Context, args []string, env Env) error {
	fs, cf := newFlagSet("join", "duration", 10*time.Second, "how long to keep joining")
	workers := fs.Int("concurrency", 50, "workers, each joining and leaving in a loop")
	mode := fs.String("room-mode", "shared", "shared: every worker joins one room; unique: a room per worker")
	c, help, err := parse(fs, cf, args, env)
	if help || err != nil {
		return err
	}
	if *workers < 1 || (*mode != "shared" && *mode != "unique") {
		return fmt.Errorf("%w: bench join: want --concurrency >= 1 and --room-mode shared or unique", cli.ErrUsage)
	}
	j := &join{common: c, workers: *workers, shared: *mode == "shared"}
	return j.run(ctx)
}

// run has every worker dial, read the welcome and close, over and over,
// until --duration is up.
func (j *join) run(ctx context.Context) error {
	runCtx, cancel := context.WithTimeout(ctx, j.duration)
	defer cancel()
	var joins atomic.Int64
	start := time.Now()
	j.showProgress(func() string {
		return fmt.Sprintf("join: %.1fs/%s  joins %s  errors %d", time.Since(start).Seconds(), j.duration, commas(joins.Load()), j.errs.total())
	})
	cpu0 := j.sampleServer()
	hists := make([]Histogram, j.workers)
	var wg sync.WaitGroup
	for w := range j.workers {
		wg.Go(func() { j.work(runCtx, w, &hists[w], &joins) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1 := j.sampleServer()

	var lat Histogram
	for i := range hists {
		lat.Merge(&hists[i])
	}
	mode := "unique"
	if j.shared {
		mode = "shared"
	}
	rep := joinReport{
		header:      j.header(ctx, elapsed),
		Concurrency: j.workers, RoomMode: mode,
		Joins:         joins.Load(),
		JoinsPerSec:   perSecond(joins.Load(), elapsed),
		LatencyUS:     lat.Summary(),
		Errors:        j.errs.snapshot(),
		serverFigures: serverBetween(cpu0, cpu1),
	}
	where := "a room each"
	if j.shared {
		where = "one room"
	}
	return j.finish(ctx, rep, fmt.Sprintf("join: %s joins in %.1fs by %d workers in %s: %s joins/s, dial to welcome p50 %s p99 %s max %s",
		commas(rep.Joins), rep.ElapsedS, j.workers, where, commas(int64(rep.JoinsPerSec)), micros(rep.LatencyUS.P50), micros(rep.LatencyUS.P99), micros(rep.LatencyUS.Max)), rep.Joins)
}

// work joins and leaves until ctx ends. A failure is counted by its code,
// followed by a short pause so that a refusing server is not hammered.
func (j *join) work(ctx context.Context, w int, lat *Histogram, joins *atomic.Int64) {
	room := fmt.Sprintf(joinRoomEach, j.runID, w)
	if j.shared {
		room = fmt.Sprintf(joinRoom, j.runID)
	}
	user := fmt.Sprintf(joinUser, j.runID, w)
	for ctx.Err() == nil {
		start := time.Now()
		conn, err := j.dial(ctx, w, room, user)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			j.errs.add(errorCode(err))
			sleep(ctx.Done(), failPause)
			continue
		}
		lat.Record(int64(time.Since(start)))
		joins.Add(1)
		_ = conn.Close()
	}
}
