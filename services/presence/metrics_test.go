package presence

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
)

// TestMetrics joins two connections under one lease and lets the lease
// expire: requests, participants and the lost gateway are counted.
func TestMetrics(t *testing.T) {
	s := natstest.Server(t)
	reg := prometheus.NewRegistry()
	cfg := testConfig
	cfg.Metrics = reg
	startService(t, s, cfg, nil)
	nc := natstest.Connect(t, s)

	join(t, nc, "m1", "c_1", "alice", "lease1")
	join(t, nc, "m1", "c_2", "bob", "lease1")
	gauge := func() float64 {
		v, err := testutil.GatherAndCount(reg, "switchboard_presence_participants")
		if err != nil || v != 1 {
			t.Fatalf("participants series: %d, %v", v, err)
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "switchboard_presence_participants" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1
	}
	poll.Until(t, 5*time.Second, "two participants", func() bool { return gauge() == 2 })
	if n, err := testutil.GatherAndCount(reg, "switchboard_presence_requests_total"); err != nil || n < 1 {
		t.Fatalf("requests_total: %d series, %v", n, err)
	}

	// No heartbeat: the lease runs out and both are reaped.
	poll.Until(t, 10*time.Second, "the lease counted lost and the room emptied", func() bool {
		mfs, _ := reg.Gather()
		lost := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "switchboard_presence_gateways_lost_total" {
				lost = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return lost == 1 && gauge() == 0
	})
}
