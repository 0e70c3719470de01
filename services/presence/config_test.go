package presence

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/shared/env"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name, url string
		want      string
		wantErr   bool
	}{
		{name: "unset uses the default", url: "", want: env.DefaultNATSURL},
		{name: "a URL", url: "nats://nats.internal:4222", want: "nats://nats.internal:4222"},
		{name: "a cluster list", url: "nats://a:4222, nats://b:4222", want: "nats://a:4222, nats://b:4222"},
		{name: "host and port without scheme", url: "nats.internal:4222", want: "nats.internal:4222"},
		{name: "TLS", url: "tls://a:4443", want: "tls://a:4443"},
		{name: "no host", url: "nats://", wantErr: true},
		{name: "an empty list entry", url: "nats://a:4222,,nats://b:4222", wantErr: true},
		{name: "white space", url: " ", wantErr: true},
		{name: "unparsable", url: "nats://a:b:c%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(func(k string) string {
				if k == "SWITCHBOARD_NATS_URL" {
					return tt.url
				}
				return ""
			})
			if tt.wantErr {
				if !errors.Is(err, env.ErrInvalid) || !strings.Contains(err.Error(), "SWITCHBOARD_NATS_URL") {
					t.Fatalf("err = %v, want env.ErrInvalid naming SWITCHBOARD_NATS_URL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NATSURL != tt.want {
				t.Errorf("NATSURL = %q, want %q", cfg.NATSURL, tt.want)
			}
			if cfg.LeaseTTL != DefaultLeaseTTL || cfg.ReapInterval != DefaultReapInterval {
				t.Errorf("LeaseTTL, ReapInterval = %v, %v, want the defaults", cfg.LeaseTTL, cfg.ReapInterval)
			}
		})
	}
}
