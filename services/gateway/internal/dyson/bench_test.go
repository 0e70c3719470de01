package dyson

import (
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

var sdp = `{"sdp":"` + strings.Repeat(`a=candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx\r\n`, 14) + `","type":"offer"}`

func BenchmarkParse(b *testing.B) {
	frame := []byte(`{"type":"webrtc.signal","data":{"type":"offer","data":` + sdp + `,"to":"bob"}}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderNativeSignal renders a native client's signal for a Dyson
// client: the data is scanned for its type.
func BenchmarkRenderNativeSignal(b *testing.B) {
	s := &contract.Signal{
		RoomID: "r1", Dialect: contract.DialectNative, Data: []byte(sdp),
		From: contract.Sender{ConnectionID: "c_1", User: contract.User{ID: "alice", Name: "Alice"}, GatewayID: "gw_1"},
	}
	b.SetBytes(int64(len(sdp)))
	b.ReportAllocs()
	for b.Loop() {
		d.RenderSignal(s, "bob")
	}
}
