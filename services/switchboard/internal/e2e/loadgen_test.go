package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/bench"
)

// benchLine is every figure a `switchboard bench` JSON line may hold.
type benchLine struct {
	Scenario    string   `json:"scenario"`
	URLs        []string `json:"urls"`
	ElapsedS    float64  `json:"elapsed_s"`
	Interrupted bool     `json:"interrupted"`

	Clients       int      `json:"clients"`
	Sent          int64    `json:"sent"`
	Refused       int64    `json:"refused"`
	Deliveries    int64    `json:"deliveries"`
	Received      int64    `json:"received"`
	SignalsPerSec float64  `json:"signals_per_sec"`
	Lost          int64    `json:"lost"`
	Reordered     int64    `json:"reordered"`
	Duplicates    int64    `json:"duplicates"`
	LatencyUS     *latency `json:"latency_us"`
	RTTUS         *latency `json:"rtt_us"`
	RoundTrips    int64    `json:"round_trips"`
	Opened        int64    `json:"opened"`
	ConnsPerSec   float64  `json:"conns_per_sec"`
	Joins         int64    `json:"joins"`
	JoinsPerSec   float64  `json:"joins_per_sec"`

	CPUCores     *float64 `json:"server_cpu_cores"`
	RSSKiB       *int64   `json:"server_rss_kib"`
	RSSBeforeKiB *int64   `json:"server_rss_before_kib"`
	KiBPerConn   *float64 `json:"kib_per_conn"`

	Errors map[string]int64 `json:"errors"`
}

type latency struct {
	P50, P90, P99, P999, Max float64
}

// ordered checks that the percentiles do not go down and are not all zero.
func (l *latency) ordered(t *testing.T, what string) {
	t.Helper()
	if l == nil || l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Errorf("%s percentiles are not in order: %+v", what, l)
	}
}

// runBench runs `switchboard bench args...` to its end and decodes its
// one line.
func runBench(t *testing.T, args ...string) benchLine {
	t.Helper()
	l := runBenchCtx(t, context.Background(), args...)
	if l.Interrupted {
		t.Fatal("a run that was not interrupted says it was")
	}
	return l
}

func runBenchCtx(t *testing.T, ctx context.Context, args ...string) benchLine {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "SWITCHBOARD_JWT_SECRET" {
			return string(secret)
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := bench.Run(ctx, args, bench.Env{Getenv: getenv, Stdout: &out, Stderr: &errOut}); err != nil {
		t.Fatalf("bench %s: %v", strings.Join(args, " "), err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("stdout is not one line:\n%s", out.String())
	}
	t.Logf("%s", out.Bytes())
	var l benchLine
	if err := json.Unmarshal(out.Bytes(), &l); err != nil {
		t.Fatalf("not a bench line (%v):\n%s", err, out.String())
	}
	if l.Scenario != args[0] || l.Errors == nil || l.ElapsedS <= 0 {
		t.Fatalf("line %s", out.String())
	}
	if quiet := slices.Contains(args, "--json"); quiet != (errOut.Len() == 0) || !quiet && !strings.HasPrefix(errOut.String(), args[0]+": ") {
		t.Errorf("stderr with --json %v: %q", quiet, errOut.String())
	}
	return l
}

// TestBenchScenarios runs each load-generator scenario briefly against two
// gateways, with the rate limits off, and checks what it measured.
func TestBenchScenarios(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	unlimited := gateway.Config{RatePerSecond: -1, BytesPerSecond: -1}
	g1, g2 := c.gateway(unlimited), c.gateway(unlimited)
	urls := g1.ws("") + "," + g2.ws("")
	pid := strconv.Itoa(os.Getpid()) // the gateways run in this process

	t.Run("relay", func(t *testing.T) {
		l := runBench(t, "relay", "--url", urls, "--rooms", "4", "--duration", "300ms", "--payload", "512", "--pid", pid, "--json")
		if l.Clients != 8 || l.Sent == 0 || l.Deliveries != l.Sent || l.Received != l.Deliveries || l.SignalsPerSec <= 0 {
			t.Errorf("clients %d sent %d deliveries %d received %d, %v/s", l.Clients, l.Sent, l.Deliveries, l.Received, l.SignalsPerSec)
		}
		if l.Lost != 0 || l.Reordered != 0 || l.Duplicates != 0 || len(l.Errors) != 0 {
			t.Errorf("lost %d reordered %d duplicates %d errors %v", l.Lost, l.Reordered, l.Duplicates, l.Errors)
		}
		l.LatencyUS.ordered(t, "latency")
		if l.CPUCores == nil || *l.CPUCores < 0 || l.RSSKiB == nil || *l.RSSKiB <= 0 {
			t.Errorf("no server figures with --pid")
		}
	})
	t.Run("relay fans out in rooms of three", func(t *testing.T) {
		l := runBench(t, "relay", "--url", urls, "--rooms", "2", "--size", "3", "--window", "4", "--duration", "300ms")
		if l.Clients != 6 || l.Deliveries != 2*l.Sent || l.Received != l.Deliveries || l.Lost != 0 || l.Reordered != 0 || len(l.Errors) != 0 {
			t.Errorf("%+v", l)
		}
		if l.CPUCores != nil {
			t.Errorf("server figures without --pid")
		}
	})
	t.Run("latency", func(t *testing.T) {
		l := runBench(t, "latency", "--url", urls, "--count", "50", "--json")
		if l.RoundTrips != 50 || len(l.Errors) != 0 {
			t.Errorf("round trips %d, errors %v", l.RoundTrips, l.Errors)
		}
		l.LatencyUS.ordered(t, "one-way latency")
		l.RTTUS.ordered(t, "round trip")
	})
	t.Run("idle", func(t *testing.T) {
		l := runBench(t, "idle", "--url", urls, "--conns", "20", "--hold", "200ms", "--pid", pid, "--json")
		if l.Opened != 20 || l.ConnsPerSec <= 0 || len(l.Errors) != 0 {
			t.Errorf("opened %d (%v/s), errors %v", l.Opened, l.ConnsPerSec, l.Errors)
		}
		if l.RSSBeforeKiB == nil || *l.RSSBeforeKiB <= 0 || l.KiBPerConn == nil {
			t.Errorf("no memory figures with --pid")
		}
	})
	t.Run("interrupted relay reports what it measured", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(600*time.Millisecond, cancel) // as Ctrl-C does
		l := runBenchCtx(t, ctx, "relay", "--url", urls, "--rooms", "2", "--duration", "1m", "--json")
		if !l.Interrupted || l.ElapsedS >= 60 || l.Received == 0 || l.Lost != 0 {
			t.Errorf("interrupted %v after %vs: received %d, lost %d", l.Interrupted, l.ElapsedS, l.Received, l.Lost)
		}
	})
	t.Run("refused joins are counted by code", func(t *testing.T) {
		var out bytes.Buffer
		wrong := func(string) string { return "not-the-secret" }
		err := bench.Run(context.Background(), []string{"join", "--url", urls, "--concurrency", "2", "--duration", "200ms", "--json"},
			bench.Env{Getenv: wrong, Stdout: &out, Stderr: io.Discard})
		var l benchLine
		if jerr := json.Unmarshal(out.Bytes(), &l); jerr != nil || l.Joins != 0 || l.Errors["unauthorized"] == 0 || len(l.Errors) != 1 {
			t.Errorf("line %s (%v)", out.Bytes(), jerr)
		}
		if err == nil || !strings.Contains(err.Error(), "nothing was measured") {
			t.Errorf("a run where every join failed: %v", err)
		}
	})
	for _, mode := range []string{"shared", "unique"} {
		t.Run("join "+mode, func(t *testing.T) {
			l := runBench(t, "join", "--url", urls, "--concurrency", "2", "--room-mode", mode, "--duration", "300ms", "--json")
			if l.Joins == 0 || l.JoinsPerSec <= 0 || len(l.Errors) != 0 {
				t.Errorf("joins %d (%v/s), errors %v", l.Joins, l.JoinsPerSec, l.Errors)
			}
			l.LatencyUS.ordered(t, "join latency")
		})
	}
}

// TestBenchRelayUnderRateLimit runs the relay against a gateway that
// refuses frames over its rate: the refusals are counted as such, not as
// losses, and the senders back off enough to keep their connections.
func TestBenchRelayUnderRateLimit(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{RatePerSecond: 200, RateBurst: 50, BytesPerSecond: -1})
	l := runBench(t, "relay", "--url", g.ws(""), "--rooms", "1", "--window", "8", "--duration", "400ms", "--json")
	if l.Refused == 0 || l.Errors["rate_limited"] != l.Refused || len(l.Errors) != 1 {
		t.Errorf("refused %d, errors %v: want only rate_limited, one per refusal", l.Refused, l.Errors)
	}
	if l.Deliveries != l.Sent-l.Refused || l.Received != l.Deliveries || l.Lost != 0 || l.Reordered != 0 {
		t.Errorf("sent %d refused %d deliveries %d received %d lost %d reordered %d", l.Sent, l.Refused, l.Deliveries, l.Received, l.Lost, l.Reordered)
	}
}
