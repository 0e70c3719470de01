package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/shared/poll"
)

// series reads one series of reg: a counter's or a gauge's value, or a
// histogram's count. labels are name=value pairs.
func series(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if !hasLabel(m, k, v) {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// TestGatewayMetrics runs a scripted session and checks that each series
// moved by what happened.
func TestGatewayMetrics(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	reg := prometheus.NewRegistry()
	g := c.gateway(gateway.Config{Metrics: reg, RatePerSecond: 0.001, RateBurst: 3, SendQueueBytes: 64 << 10, WriteTimeout: time.Second})
	m := func(name string, labels ...string) float64 { return series(t, reg, name, labels...) }

	// Two joins and a signal.
	a, _ := g.native(t, "met", "alice")
	b, _ := g.native(t, "met", "bob")
	a.expect("joined")
	a.signal(`{"kind":"offer"}`, "", "")
	b.expect("signal")
	// Counted right after the frames went out: wait for them.
	for name, want := range map[string]float64{
		`switchboard_gateway_admissions_total dialect=native result=ok`: 2,
		`switchboard_gateway_connections dialect=native`:                2,
		`switchboard_gateway_rooms`:                                     1,
		`switchboard_gateway_join_duration_seconds dialect=native`:      2,
		`switchboard_gateway_signals_received_total dialect=native`:     1,
		`switchboard_gateway_signals_delivered_total dialect=native`:    1,
	} {
		f := strings.Fields(name)
		poll.Until(t, 5*time.Second, name, func() bool { return m(f[0], f[1:]...) == want })
	}

	// A refused token.
	checkNative(t, g.srv.URL+"/v1/rooms/met/ws?access_token=nope", nil, false, 401, "unauthorized")
	if got := m("switchboard_gateway_admissions_total", "dialect=native", "result=unauthorized"); got != 1 {
		t.Errorf("unauthorized admissions = %v, want 1", got)
	}

	// A bad frame, then a flood: rate_limited errors, then a 1008 close.
	a.sendRaw(`{"type":"dance"}`)
	a.expect("error")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 20 {
		if a.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"signal","data":1}`)) != nil {
			break
		}
	}
	if code := a.closeStatus(); code != websocket.StatusPolicyViolation {
		t.Fatalf("flood: close %d, want 1008", code)
	}
	poll.Until(t, 20*time.Second, "a rate_limited disconnect counted", func() bool {
		return m("switchboard_gateway_disconnects_total", "reason=rate_limited") == 1
	})
	if got := m("switchboard_gateway_signal_errors_total", "code=bad_request"); got != 1 {
		t.Errorf("bad_request errors = %v, want 1", got)
	}
	if got := m("switchboard_gateway_signal_errors_total", "code=rate_limited"); got < 1 {
		t.Errorf("rate_limited errors = %v, want some", got)
	}

	// bob closes normally; the room empties.
	b.ws.Close(websocket.StatusNormalClosure, "")
	// A close handshake may wait out the library's 5 s close timeout when the
	// machine is loaded: the deadline is generous.
	poll.Until(t, 20*time.Second, "a closed disconnect counted, the room empty", func() bool {
		ok := m("switchboard_gateway_disconnects_total", "reason=closed") == 1 &&
			m("switchboard_gateway_connections", "dialect=native") == 0 &&
			m("switchboard_gateway_rooms") == 0
		if !ok {
			t.Logf("closed %v, error %v, connections %v, rooms %v", m("switchboard_gateway_disconnects_total", "reason=closed"),
				m("switchboard_gateway_disconnects_total", "reason=error"), m("switchboard_gateway_connections", "dialect=native"), m("switchboard_gateway_rooms"))
		}
		return ok
	})
}

// TestGatewayMetricsSlowConsumer floods a client that never reads: it is
// cut as a slow consumer, and counted.
func TestGatewayMetricsSlowConsumer(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	reg := prometheus.NewRegistry()
	g := c.gateway(gateway.Config{Metrics: reg, RatePerSecond: -1, BytesPerSecond: -1, SendQueueBytes: 256 << 10, WriteTimeout: time.Second})
	sender, _ := g.native(t, "slowm", "sender")
	_, _ = g.native(t, "slowm", "slow") // never reads again
	sender.expect("joined")
	payload := `"` + strings.Repeat("p", 16<<10) + `"`
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	frame := []byte(`{"type":"signal","data":` + payload + `}`)
	for range 2000 { // 32 MiB, far more than loopback socket buffers hold
		if series(t, reg, "switchboard_gateway_disconnects_total", "reason=slow_consumer") > 0 {
			return
		}
		if err := sender.ws.Write(ctx, websocket.MessageText, frame); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 5*time.Second, "a slow_consumer disconnect counted", func() bool {
		return series(t, reg, "switchboard_gateway_disconnects_total", "reason=slow_consumer") == 1
	})
}
