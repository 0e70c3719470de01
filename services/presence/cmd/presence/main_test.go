package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// syncWriter is a log sink run's goroutine writes to while the test reads.
type syncWriter struct {
	ch chan string
}

func (w syncWriter) Write(p []byte) (int, error) {
	select {
	case w.ch <- string(p):
	default:
	}
	return len(p), nil
}

func TestRunServesUntilCancelled(t *testing.T) {
	s := natstest.Server(t)
	nc := natstest.Connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := syncWriter{ch: make(chan string, 100)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string {
			if k == "SWITCHBOARD_NATS_URL" {
				return s.ClientURL()
			}
			return ""
		}, out)
	}()

	poll.Until(t, 10*time.Second, "presence answers $SRV.PING", func() bool {
		_, err := nc.Request(subject.ServicePing(subject.PresenceService), nil, 200*time.Millisecond)
		return err == nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	logged := ""
	for len(out.ch) > 0 {
		logged += <-out.ch
	}
	if !strings.Contains(logged, `"msg":"presence started"`) {
		t.Errorf("log has no JSON start line: %s", logged)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	err := run(context.Background(), func(k string) string {
		if k == "SWITCHBOARD_NATS_URL" {
			return "nats://"
		}
		return ""
	}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_NATS_URL") {
		t.Fatalf("run = %v, want an error naming SWITCHBOARD_NATS_URL", err)
	}
}

func TestRunReportsUnreachableNATS(t *testing.T) {
	s := natstest.Server(t)
	url := s.ClientURL()
	s.Shutdown()
	s.WaitForShutdown()
	err := run(context.Background(), func(k string) string {
		if k == "SWITCHBOARD_NATS_URL" {
			return url
		}
		return ""
	}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("run = %v, want a connect error naming %s", err, url)
	}
}
