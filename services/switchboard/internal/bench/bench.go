package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/cli"
	"github.com/switchboard-rtc/switchboard/shared/auth"
	"github.com/switchboard-rtc/switchboard/shared/client"
	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// Env is what a run needs from its surroundings.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer // the JSON line
	Stderr io.Writer // progress on a terminal, and a summary unless --json
}

// Waits of a run, all bounded.
const (
	dialTimeout  = 10 * time.Second      // one dial, up to the welcome
	peersTimeout = 5 * time.Second       // rooms filling up before the measured phase
	drainTimeout = 3 * time.Second       // signals in flight after the last send
	backoff      = 10 * time.Millisecond // a sender told rate_limited pauses this long
	failPause    = 50 * time.Millisecond // a join worker pauses after a failure
)

// Names of rooms and users, from the run id (so that runs do not meet) and
// numbers. Rooms that do not exist must be open to signed-in users: dev
// mode, or SWITCHBOARD_OPEN_ROOMS=true.
const (
	relayRoom    = "bench-%s-relay-%d"    // run, room
	relayUser    = "bench-%s-relay-%d-%d" // run, room, place in the room
	latencyRoom  = "bench-%s-latency"     // run
	latencyUser  = "bench-%s-latency-%d"  // run, 0 or 1
	idleRoom     = "bench-%s-idle-%d"     // run, room
	idleUser     = "bench-%s-idle-%d-%d"  // run, room, place
	joinRoom     = "bench-%s-join"        // run; --room-mode shared
	joinRoomEach = "bench-%s-join-%d"     // run, worker; --room-mode unique
	joinUser     = "bench-%s-join-w%d"    // run, worker
)

// Run runs `switchboard bench SCENARIO [flags]`: it prints one JSON line
// with the figures on env.Stdout and returns when the run is over, or soon
// after ctx ends (Ctrl-C), with the figures so far.
func Run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: bench needs a scenario: relay, latency, idle or join", cli.ErrUsage)
	}
	switch args[0] {
	case "relay":
		return runRelay(ctx, args[1:], env)
	case "latency":
		return runLatency(ctx, args[1:], env)
	case "idle":
		return runIdle(ctx, args[1:], env)
	case "join":
		return runJoin(ctx, args[1:], env)
	}
	return fmt.Errorf("%w: unknown bench scenario %q: want relay, latency, idle or join", cli.ErrUsage, args[0])
}

// common is what every scenario shares: flags, tokens, clocks, errors.
type common struct {
	env      Env
	name     string
	urls     []string
	duration time.Duration
	procs    *procs // nil without --pid
	jsonOnly bool
	secret   []byte
	runID    string
	t0       time.Time
	errs     errorCounts
	prog     *progress
}

// commonFlags are the flags of every scenario, before they are checked.
type commonFlags struct {
	url      *string
	duration *time.Duration
	pid      *string
	json     *bool
}

// newFlagSet returns the flags of a scenario with the common ones set up.
// The measured phase lasts --duration, or the flag named durName.
func newFlagSet(name, durName string, defDuration time.Duration, durUsage string) (*flag.FlagSet, commonFlags) {
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, commonFlags{
		url:      fs.String("url", "ws://127.0.0.1:8080", "gateway base URL, or a comma-separated list: clients are spread over them in turn"),
		duration: fs.Duration(durName, defDuration, durUsage),
		pid:      fs.String("pid", "", "server process id(s), comma-separated: report their CPU and memory (Linux /proc)"),
		json:     fs.Bool("json", false, "print only the JSON line: no progress, no summary"),
	}
}

// parse parses args and builds the common part. help is true (and the flags
// printed) for -h.
func parse(fs *flag.FlagSet, cf commonFlags, args []string, env Env) (c *common, help bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(env.Stdout)
			fmt.Fprintf(env.Stdout, "usage: switchboard %s [flags]\n", fs.Name())
			fs.PrintDefaults()
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("%w: %s: %w", cli.ErrUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("%w: %s takes no arguments, got %q", cli.ErrUsage, fs.Name(), fs.Args())
	}
	c = &common{env: env, name: strings.TrimPrefix(fs.Name(), "bench "), duration: *cf.duration, jsonOnly: *cf.json}
	if c.urls, err = parseURLs(*cf.url); err != nil {
		return nil, false, fmt.Errorf("%w: --url: %w", cli.ErrUsage, err)
	}
	if c.duration <= 0 {
		return nil, false, fmt.Errorf("%w: %s: the duration must be positive", cli.ErrUsage, fs.Name())
	}
	if *cf.pid != "" {
		pids, err := parsePIDs(*cf.pid)
		if err != nil {
			return nil, false, fmt.Errorf("%w: --pid: %w", cli.ErrUsage, err)
		}
		c.procs = &procs{root: "/proc", pids: pids}
		if _, err := c.procs.sample(); err != nil {
			return nil, false, err
		}
	}
	secret := env.Getenv("SWITCHBOARD_JWT_SECRET")
	if secret == "" {
		return nil, false, errors.New("SWITCHBOARD_JWT_SECRET is not set: bench signs its clients' tokens with it")
	}
	c.secret = []byte(secret)
	c.runID = strings.ToLower(rand.Text()[:8])
	c.t0 = time.Now()
	return c, false, nil
}

// parseURLs splits a comma-separated list of gateway base URLs.
func parseURLs(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSuffix(strings.TrimSpace(part), "/")
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil {
			return nil, err
		}
		switch u.Scheme {
		case "ws", "wss", "http", "https":
		default:
			return nil, fmt.Errorf("%q: want a ws:// or wss:// URL", part)
		}
		if u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q: want scheme://host:port, no query", part)
		}
		out = append(out, part)
	}
	if len(out) == 0 {
		return nil, errors.New("no URL")
	}
	return out, nil
}

// parsePIDs splits a comma-separated list of process ids.
func parsePIDs(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a process id", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// now is the run's clock: nanoseconds since it started, monotonic.
func (c *common) now() int64 { return int64(time.Since(c.t0)) }

// token mints a token for user, valid well past the run.
func (c *common) token(user string) (string, error) {
	return auth.Mint(c.secret, contract.User{ID: user}, c.duration+2*time.Hour, time.Now())
}

// dial opens one connection for user in room on the i-th gateway (in turn).
func (c *common) dial(ctx context.Context, i int, room, user string) (*client.Conn, error) {
	tok, err := c.token(user)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return client.Dial(ctx, client.URL(c.urls[i%len(c.urls)], room), client.Options{Token: tok})
}

// dialAll opens n connections, at most par at a time; connection i is for
// user(i) in room(i). It returns them in order, nil where a dial failed (the
// error is counted), and records how long each took in setup. opened is
// called with each connection as it opens, from the dialing goroutine.
// Dialing stops when ctx ends.
func (c *common) dialAll(ctx context.Context, n, par int, room, user func(int) string, setup *Histogram, opened func(int, *client.Conn)) []*client.Conn {
	conns := make([]*client.Conn, n)
	var mu sync.Mutex // guards setup
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(par, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				start := time.Now()
				conn, err := c.dial(ctx, i, room(i), user(i))
				if err != nil {
					if ctx.Err() == nil {
						c.errs.add(errorCode(err))
					}
					continue
				}
				mu.Lock()
				setup.Record(int64(time.Since(start)))
				mu.Unlock()
				conns[i] = conn
				opened(i, conn)
			}
		})
	}
	wg.Wait()
	return conns
}

// closeAll closes the connections, all at once, each with a handshake.
func closeAll(conns []*client.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		if c != nil {
			wg.Go(func() { _ = c.Close() })
		}
	}
	wg.Wait()
}

// showProgress starts the progress line when stderr is a terminal and
// --json was not given.
func (c *common) showProgress(line func() string) {
	if c.jsonOnly || !isTerminal(c.env.Stderr) {
		return
	}
	c.prog = startProgress(c.env.Stderr, line)
}

// header is the start of every report.
type header struct {
	Scenario    string   `json:"scenario"`
	URLs        []string `json:"urls"`
	DurationS   float64  `json:"duration_s"`  // as asked with --duration
	ElapsedS    float64  `json:"elapsed_s"`   // the measured phase as it ran
	Interrupted bool     `json:"interrupted"` // ended early by Ctrl-C
}

func (c *common) header(ctx context.Context, elapsed time.Duration) header {
	return header{
		Scenario:    c.name,
		URLs:        c.urls,
		DurationS:   c.duration.Seconds(),
		ElapsedS:    seconds(elapsed),
		Interrupted: ctx.Err() != nil,
	}
}

// serverFigures are the --pid processes' figures; left out without --pid.
type serverFigures struct {
	CPUCores float64 `json:"server_cpu_cores"` // CPU used over the measured phase, in cores
	RSSKiB   int64   `json:"server_rss_kib"`   // resident memory at its end
}

// sampleServer reads the --pid processes, or returns nil without --pid. A
// process that went away is counted as an error, not a failed run.
func (c *common) sampleServer() *procSample {
	if c.procs == nil {
		return nil
	}
	s, err := c.procs.sample()
	if err != nil {
		c.errs.add("pid_unreadable")
		return nil
	}
	return &s
}

func serverBetween(a, b *procSample) *serverFigures {
	if a == nil || b == nil {
		return nil
	}
	return &serverFigures{CPUCores: cpuCores(*a, *b), RSSKiB: b.rssKiB}
}

// errNothingMeasured is returned, after the JSON line, by a run in which
// every attempt failed, so that scripts see a failure in the exit status.
var errNothingMeasured = errors.New("nothing was measured: every attempt failed (the JSON line counts the errors)")

// finish ends the progress line, prints the JSON line and, unless --json,
// a summary for people on stderr. measured is how many things the run
// measured (signals, round trips, connections, joins): a run that was not
// interrupted and measured nothing returns errNothingMeasured.
func (c *common) finish(ctx context.Context, report any, summary string, measured int64) error {
	c.prog.end()
	if err := c.print(report, summary); err != nil {
		return err
	}
	if measured == 0 && ctx.Err() == nil {
		return fmt.Errorf("bench %s: %w", c.name, errNothingMeasured)
	}
	return nil
}

func (c *common) print(report any, summary string) error {
	b, err := json.Marshal(report)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(c.env.Stdout, "%s\n", b); err != nil {
		return err
	}
	if !c.jsonOnly {
		errs := "none"
		if m := c.errs.snapshot(); len(m) > 0 {
			b, _ := json.Marshal(m)
			errs = string(b)
		}
		fmt.Fprintf(c.env.Stderr, "%s; errors: %s\n", summary, errs)
	}
	return nil
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(int64(float64(n)/d.Seconds()*10)) / 10
}

// sleep waits for d or until done is closed; false if done was.
func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		return true
	}
}

// notify wakes whoever waits on ch, without blocking.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
