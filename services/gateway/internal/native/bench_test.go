package native

import (
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// sdp is about 1 KiB of signal data, the size the relay benchmarks use.
var sdp = `{"kind":"offer","sdp":"` + strings.Repeat(`a=candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx\r\n`, 14) + `"}`

func BenchmarkParse(b *testing.B) {
	frame := []byte(`{"type":"signal","to":"c_AbCdEfGhIjKlMnOpQrStUv","data":` + sdp + `,"id":"42"}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderSignal(b *testing.B) {
	s := &contract.Signal{
		RoomID: "r1", Dialect: contract.DialectNative, Data: []byte(sdp),
		From: contract.Sender{ConnectionID: "c_AbCdEfGhIjKlMnOpQrStUv", User: contract.User{ID: "alice", Name: "Alice"}, GatewayID: "gw_1"},
	}
	b.SetBytes(int64(len(sdp)))
	b.ReportAllocs()
	for b.Loop() {
		d.RenderSignal(s, "")
	}
}
