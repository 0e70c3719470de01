package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/cli"
)

func TestParseURLs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"ws://127.0.0.1:8080", []string{"ws://127.0.0.1:8080"}},
		{"ws://127.0.0.1:8080/, ws://127.0.0.1:8081,", []string{"ws://127.0.0.1:8080", "ws://127.0.0.1:8081"}},
		{"wss://rtc.example.com/prefix", []string{"wss://rtc.example.com/prefix"}},
		{"", nil},
		{"127.0.0.1:8080", nil},
		{"ftp://host", nil},
		{"ws://", nil},
		{"ws://host/?access_token=x", nil},
	} {
		got, err := parseURLs(tc.in)
		if (err == nil) != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("parseURLs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParsePIDs(t *testing.T) {
	if got, err := parsePIDs("12, 34"); err != nil || !slices.Equal(got, []int{12, 34}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"x", "12,", "-3", "0"} {
		if _, err := parsePIDs(bad); err == nil {
			t.Errorf("parsePIDs(%q): no error", bad)
		}
	}
}

func TestRunRefusesBadCommandLines(t *testing.T) {
	env := Env{Getenv: func(string) string { return "secret" }, Stdout: io.Discard, Stderr: io.Discard}
	for _, args := range [][]string{
		nil,
		{"dance"},
		{"relay", "--rooms", "0"},
		{"relay", "--size", "1"},
		{"relay", "--payload", "70000"},
		{"relay", "extra"},
		{"relay", "--duration", "0s"},
		{"relay", "--url", "http//nope"},
		{"relay", "--pid", "abc"},
		{"latency", "--count", "0"},
		{"idle", "--conns", "0"},
		{"idle", "--duration", "1s"}, // idle holds for --hold
		{"join", "--room-mode", "mixed"},
		{"join", "--nope"},
	} {
		if err := Run(context.Background(), args, env); !errors.Is(err, cli.ErrUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	env.Getenv = func(string) string { return "" }
	if err := Run(context.Background(), []string{"join"}, env); err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_JWT_SECRET") {
		t.Errorf("no secret: %v", err)
	}
}

func TestRunHelpListsFlags(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"relay", "-h"}, Env{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-url", "-rooms", "-window", "-rate", "-pid", "-json"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("relay -h does not list %s:\n%s", flag, out.String())
		}
	}
}
