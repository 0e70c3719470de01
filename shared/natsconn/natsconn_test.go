package natsconn

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-rtc/switchboard/shared/natstest"
)

func TestDrainDeliversAndCloses(t *testing.T) {
	s := natstest.Server(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := Connect(s.ClientURL(), "test", log)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *nats.Msg, 1)
	watcher := natstest.Connect(t, s)
	if _, err := watcher.ChanSubscribe("x", got); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish("x", []byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := c.Drain(); err != nil {
		t.Fatal(err)
	}
	if !c.IsClosed() {
		t.Fatal("not closed after Drain")
	}
	select {
	case m := <-got:
		if string(m.Data) != "last words" {
			t.Fatalf("got %q", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a message published before Drain was lost")
	}
}

func TestConnectErrorNamesTheVariable(t *testing.T) {
	_, err := Connect("nats://127.0.0.1:1", "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_NATS_URL") {
		t.Fatalf("err = %v", err)
	}
}
