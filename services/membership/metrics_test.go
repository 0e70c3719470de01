package membership

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/shared/subject"
)

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	nc := newService(t, Config{OpenRooms: true, Metrics: reg})
	if err := request(t, nc, subject.MembershipAuthorize, `{"room_id":"r1","user_id":"alice"}`, nil); err != nil {
		t.Fatal(err)
	}
	if err := request(t, nc, subject.MembershipAuthorize, `{"room_id":"bad.id","user_id":"alice"}`, nil); err == nil {
		t.Fatal("a bad room id was authorized")
	}
	if err := request(t, nc, subject.MembershipRoomsGet, `{"room_id":"nope"}`, nil); err == nil {
		t.Fatal("a missing room was found")
	}
	for _, tt := range []struct {
		endpoint, result string
	}{{"authorize", "ok"}, {"authorize", "400"}, {"rooms.get", "404"}} {
		if got := requestCount(t, reg, tt.endpoint, tt.result); got != 1 {
			t.Errorf("requests_total{%s,%s} = %v, want 1", tt.endpoint, tt.result, got)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "switchboard_membership_request_duration_seconds"); err != nil || n != 6 {
		t.Errorf("duration series: %d, %v; want one per endpoint (6), there from the start", n, err)
	}
}

// requestCount reads switchboard_membership_requests_total{endpoint,result}.
func requestCount(t *testing.T, reg *prometheus.Registry, endpoint, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_membership_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var e, r string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "endpoint":
					e = l.GetValue()
				case "result":
					r = l.GetValue()
				}
			}
			if e == endpoint && r == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
