package membership

import (
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/switchboard-rtc/switchboard/shared/natstest"
)

// FuzzRequests sends arbitrary bytes to every endpoint: the service answers
// each with a reply or a refusal (400, 404, 409), never a failure (500), and
// keeps answering.
func FuzzRequests(f *testing.F) {
	s := natstest.Server(f)
	startService(f, natstest.Connect(f, s), Config{})
	nc := natstest.Connect(f, s)

	for i := range endpointSubjects {
		for _, p := range badPayloads {
			if len(p) < 1024 {
				f.Add(uint8(i), []byte(p))
			}
		}
		f.Add(uint8(i), []byte(`{"room_id":"f1","user_id":"u","owner_id":"o","policy":"open","role":"owner"}`))
		f.Add(uint8(i), []byte(`{"room_id":"f1","user_id":"o","role":"member"}`))
		f.Add(uint8(i), []byte(`{"room_id":"f1","user_id":"u","policy":"members","role":"admin"}`))
	}
	f.Fuzz(func(t *testing.T, endpoint uint8, data []byte) {
		if len(data) > 64<<10 {
			t.Skip()
		}
		subj := endpointSubjects[int(endpoint)%len(endpointSubjects)]
		msg, err := nc.Request(subj, data, 5*time.Second)
		if err != nil {
			t.Fatalf("%s %q: %v", subj, data, err)
		}
		switch c := msg.Header.Get(micro.ErrorCodeHeader); c {
		case "", "400", "404", "409":
		default:
			n, _ := strconv.Atoi(c)
			t.Fatalf("%s %q: code %d %s", subj, data, n, msg.Header.Get(micro.ErrorHeader))
		}
	})
}
