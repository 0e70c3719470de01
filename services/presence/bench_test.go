package presence

import (
	"strconv"
	"testing"

	"github.com/switchboard-rtc/switchboard/shared/natstest"
)

// BenchmarkJoinLeave measures one join and one leave through NATS, against
// an embedded server, in a room that holds ten other participants.
func BenchmarkJoinLeave(b *testing.B) {
	s := natstest.Server(b)
	startService(b, s, Config{}, nil)
	nc := natstest.Connect(b, s)
	for i := range 10 {
		join(b, nc, "bench", "resident"+strconv.Itoa(i), "u", "L1")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		conn := "c" + strconv.Itoa(i)
		i++
		if rep := join(b, nc, "bench", conn, "u", "L1"); len(rep.Participants) != 10 {
			b.Fatalf("join saw %d participants, want 10", len(rep.Participants))
		}
		if !leave(b, nc, "bench", conn, "") {
			b.Fatal("leave removed nothing")
		}
	}
}
