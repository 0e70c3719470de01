package gateway

import (
	"slices"
	"testing"
)

func TestHangup(t *testing.T) {
	for reason, want := range map[string]string{
		"":                  "closed",
		reasonSlowConsumer:  "slow_consumer",
		reasonWriteTimedOut: "slow_consumer",
		reasonRateLimit:     "rate_limited",
		reasonTooBig:        "too_large",
		reasonKicked:        "kicked",
		reasonShutdown:      "shutdown",
		reasonNoPong:        "ping_timeout",
		reasonPresenceLost:  "error",
		reasonInternal:      "error",
		reasonWriteFailed:   "error",
	} {
		if got := hangup(reason); got != want {
			t.Errorf("hangup(%q) = %s, want %s", reason, got, want)
		}
		if !slices.Contains(hangups, want) {
			t.Errorf("%s is not among the label values set up at start", want)
		}
	}
}
