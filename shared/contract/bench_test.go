package contract

import (
	"strings"
	"testing"
)

var sdp = `{"kind":"offer","sdp":"` + strings.Repeat(`a=candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx\r\n`, 14) + `"}`

func BenchmarkAppendSignal(b *testing.B) {
	prefix := SignalPrefix("r1", Sender{ConnectionID: "c_AbCdEfGhIjKlMnOpQrStUv", User: User{ID: "alice", Name: "Alice"}, GatewayID: "gw_1"}, DialectNative)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(sdp)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendSignal(buf[:0], prefix, "c_x", "", "", []byte(sdp))
	}
}

func BenchmarkDecodeSignal(b *testing.B) {
	payload := (&Signal{RoomID: "r1", From: Sender{ConnectionID: "c_AbCdEfGhIjKlMnOpQrStUv", User: User{ID: "alice", Name: "Alice"}, GatewayID: "gw_1"},
		Dialect: DialectNative, To: "c_x", Data: []byte(sdp)}).Encode()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	var s Signal
	for b.Loop() {
		if err := DecodeSignal(payload, &s); err != nil {
			b.Fatal(err)
		}
	}
}
