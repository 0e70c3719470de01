package membership

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/shared/env"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // substring of the error; "" for none
	}{
		{name: "defaults", env: nil, want: Config{NATSURL: env.DefaultNATSURL}},
		{
			name: "all set",
			env:  map[string]string{env.NATSURL: "nats://a:4222,nats://b:4222", env.OpenRooms: "true"},
			want: Config{NATSURL: "nats://a:4222,nats://b:4222", OpenRooms: true},
		},
		{name: "open rooms 1", env: map[string]string{env.OpenRooms: "1"}, want: Config{NATSURL: env.DefaultNATSURL, OpenRooms: true}},
		{name: "open rooms 0", env: map[string]string{env.OpenRooms: "0"}, want: Config{NATSURL: env.DefaultNATSURL}},
		{name: "open rooms false", env: map[string]string{env.OpenRooms: "false"}, want: Config{NATSURL: env.DefaultNATSURL}},
		{name: "bad open rooms names the variable", env: map[string]string{env.OpenRooms: "yes please"}, wantErr: "SWITCHBOARD_OPEN_ROOMS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, env.ErrInvalid) {
					t.Fatalf("LoadConfig() error = %v, want env.ErrInvalid naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("LoadConfig() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
