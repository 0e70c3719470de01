// Package poll waits in tests for a condition to become true, with a
// deadline, instead of sleeping for a guessed time.
package poll

import (
	"testing"
	"time"
)

// Until calls cond every few milliseconds until it returns true, and fails
// the test with what if it has not by timeout.
func Until(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
