package gateway

import (
	"strings"
	"testing"
)

func TestLoadConfigLimits(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		frames, bytes float64
		err           string
	}{
		{name: "defaults", env: nil, frames: 0, bytes: 0},
		{name: "set", env: map[string]string{"SWITCHBOARD_MAX_FRAMES_PER_SECOND": "250", "SWITCHBOARD_MAX_BYTES_PER_SECOND": "65536"}, frames: 250, bytes: 65536},
		{name: "zero turns off", env: map[string]string{"SWITCHBOARD_MAX_FRAMES_PER_SECOND": "0", "SWITCHBOARD_MAX_BYTES_PER_SECOND": "0"}, frames: -1, bytes: -1},
		{name: "negative", env: map[string]string{"SWITCHBOARD_MAX_FRAMES_PER_SECOND": "-5"}, err: "SWITCHBOARD_MAX_FRAMES_PER_SECOND"},
		{name: "not a number", env: map[string]string{"SWITCHBOARD_MAX_BYTES_PER_SECOND": "1MiB"}, err: "SWITCHBOARD_MAX_BYTES_PER_SECOND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SWITCHBOARD_JWT_SECRET": "s"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := LoadConfig(func(k string) string { return env[k] })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.RatePerSecond != tt.frames || c.BytesPerSecond != tt.bytes {
				t.Fatalf("limits %v %v, want %v %v", c.RatePerSecond, c.BytesPerSecond, tt.frames, tt.bytes)
			}
			c.setDefaults()
			if c.RateBurst <= 0 {
				t.Fatalf("RateBurst %d: a flooding client would be closed at its first refusal", c.RateBurst)
			}
			if tt.frames == 0 && (c.RatePerSecond != DefaultRatePerSecond || c.RateBurst != 2*DefaultRatePerSecond) {
				t.Fatalf("default frames %v burst %d", c.RatePerSecond, c.RateBurst)
			}
		})
	}
}
