package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/syncbuf"
)

func TestRun(t *testing.T) {
	s := natstest.Server(t)
	nc := natstest.Connect(t, s)
	env := map[string]string{"SWITCHBOARD_NATS_URL": s.ClientURL(), "SWITCHBOARD_OPEN_ROOMS": "true"}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &out) }()

	poll.Until(t, 10*time.Second, "membership answering $SRV.PING", func() bool {
		_, err := nc.Request(subject.ServicePing(subject.MembershipService), nil, 100*time.Millisecond)
		return err == nil
	})
	// The service answers pings a moment before its start line is written.
	poll.Until(t, 10*time.Second, "the start line with open rooms in the log", func() bool {
		return strings.Contains(out.String(), `"msg":"membership started"`) && strings.Contains(out.String(), `"open_rooms":true`)
	})

	cancel()
	var err error
	poll.Until(t, 15*time.Second, "run to return", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := nc.Request(subject.ServicePing(subject.MembershipService), nil, 200*time.Millisecond); err == nil {
		t.Error("membership still answers after run returned")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"bad open rooms", map[string]string{"SWITCHBOARD_OPEN_ROOMS": "maybe"}, "SWITCHBOARD_OPEN_ROOMS"},
		{"no NATS there", map[string]string{"SWITCHBOARD_NATS_URL": "nats://127.0.0.1:1"}, "nats://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncbuf.Buffer
			err := run(t.Context(), func(k string) string { return tt.env[k] }, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run() = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}
