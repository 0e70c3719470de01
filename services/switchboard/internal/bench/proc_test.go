package bench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A /proc/PID/stat line as Linux writes it: utime 1500, stime 250.
const statLine = "4242 (switchboard) S 1 4242 4242 34816 4242 4194304 12345 0 3 0 1500 250 0 0 20 0 9 0 123456 1234567890 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want uint64
		ok   bool
	}{
		{"plain", statLine, 1750, true},
		{"command with spaces and parentheses", strings.Replace(statLine, "(switchboard)", "(my (odd) cmd) )", 1), 1750, true},
		{"no command name", "4242 switchboard S 1", 0, false},
		{"cut short", "4242 (sb) S 1 2 3 4 5 6 7 8 9", 0, false},
		{"not a number", strings.Replace(statLine, " 1500 ", " x ", 1), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("got %d, %v; want %d (ok %v)", got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, errProcFormat) {
				t.Fatalf("error %v is not errProcFormat", err)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{"status file", "Name:\tswitchboard\nVmPeak:\t  900000 kB\nVmRSS:\t   45678 kB\nRssAnon:\t   40000 kB\n", 45678, true},
		{"last line without newline", "Name:\tx\nVmRSS:\t12 kB", 12, true},
		{"kernel thread has none", "Name:\tkthreadd\nState:\tS (sleeping)\n", 0, false},
		{"odd unit", "VmRSS:\t12 MB\n", 0, false},
		{"not a number", "VmRSS:\tlots kB\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tc.in))
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("got %d, %v; want %d (ok %v)", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestProcsSample(t *testing.T) {
	root := t.TempDir()
	for pid, stat := range map[string]string{"10": statLine, "11": strings.Replace(statLine, " 1500 250 ", " 100 50 ", 1)} {
		dir := filepath.Join(root, pid)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644)
		os.WriteFile(filepath.Join(dir, "status"), []byte("VmRSS:\t 1000 kB\n"), 0o644)
	}
	s, err := procs{root: root, pids: []int{10, 11}}.sample()
	if err != nil || s.ticks != 1750+150 || s.rssKiB != 2000 {
		t.Fatalf("sample %+v, %v; want 1900 ticks and 2000 KiB summed", s, err)
	}
	if _, err := (procs{root: root, pids: []int{10, 12}}).sample(); err == nil || !strings.Contains(err.Error(), "--pid 12") {
		t.Fatalf("a missing process: %v", err)
	}
	// The real thing: this process.
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		if _, err := (procs{root: "/proc", pids: []int{os.Getpid()}}).sample(); err != nil {
			t.Fatalf("this process: %v", err)
		}
	}
}

func TestCPUCores(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		a, b procSample
		want float64
	}{
		{"one core for two seconds", procSample{at: t0, ticks: 100}, procSample{at: t0.Add(2 * time.Second), ticks: 300}, 1},
		{"a quarter core", procSample{at: t0}, procSample{at: t0.Add(4 * time.Second), ticks: 100}, 0.25},
		{"no time passed", procSample{at: t0}, procSample{at: t0, ticks: 100}, 0},
		{"another process (ticks went down)", procSample{at: t0, ticks: 500}, procSample{at: t0.Add(time.Second), ticks: 100}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cpuCores(tc.a, tc.b); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
