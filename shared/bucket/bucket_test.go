package bucket

import (
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/natstest"
)

func TestOpenCreatesOnceAndKeepsExisting(t *testing.T) {
	s := natstest.Server(t)
	js, err := jetstream.New(natstest.Connect(t, s))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Open(ctx, js, jetstream.KeyValueConfig{Bucket: "b", History: 1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// An operator raises the history; opening again must not undo it.
	if _, err := js.UpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", History: 5}); err != nil {
		t.Fatal(err)
	}
	kv, err := Open(ctx, js, jetstream.KeyValueConfig{Bucket: "b", History: 1})
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 5 {
		t.Fatalf("history = %d, want the operator's 5", st.History())
	}
}
