package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// userHZ is the unit of CPU times in /proc/PID/stat. The kernel reports
// them in USER_HZ, which is 100 on every architecture Go runs Linux on
// (reading it through sysconf would need cgo).
const userHZ = 100

// errProcFormat is returned (wrapped) for a /proc file that does not parse.
var errProcFormat = errors.New("unexpected /proc format")

// parseStat returns utime+stime, in clock ticks, from the contents of
// /proc/PID/stat. The command name (field 2) is in parentheses and may hold
// spaces and parentheses itself, so fields are counted from the last ')'.
func parseStat(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat has no command name", errProcFormat)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the command name", errProcFormat, len(f))
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: stat utime/stime: %w", errProcFormat, err)
	}
	return ut + st, nil
}

// parseVmRSS returns the resident set size in KiB from the contents of
// /proc/PID/status ("VmRSS:\t  12345 kB").
func parseVmRSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: VmRSS line %q", errProcFormat, bytes.TrimSpace(line))
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: VmRSS: %w", errProcFormat, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: status has no VmRSS (a kernel thread, or a zombie)", errProcFormat)
}

// procSample is the server processes' CPU time and memory at one moment.
type procSample struct {
	at     time.Time
	ticks  uint64 // utime+stime, summed over the processes
	rssKiB int64  // VmRSS, summed
}

// procs reads the server processes named by --pid.
type procs struct {
	root string // "/proc"
	pids []int
}

// sample reads every process; an error names the process.
func (p procs) sample() (procSample, error) {
	s := procSample{at: time.Now()}
	for _, pid := range p.pids {
		dir := filepath.Join(p.root, strconv.Itoa(pid))
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			return s, fmt.Errorf("--pid %d: %w", pid, err)
		}
		status, err := os.ReadFile(filepath.Join(dir, "status"))
		if err != nil {
			return s, fmt.Errorf("--pid %d: %w", pid, err)
		}
		ticks, err := parseStat(stat)
		if err != nil {
			return s, fmt.Errorf("--pid %d: %w", pid, err)
		}
		rss, err := parseVmRSS(status)
		if err != nil {
			return s, fmt.Errorf("--pid %d: %w", pid, err)
		}
		s.ticks += ticks
		s.rssKiB += rss
	}
	return s, nil
}

// cpuCores is the CPU the processes used between a and b, in cores: 1.5 is
// one and a half cores busy the whole time. To 0.01 core.
func cpuCores(a, b procSample) float64 {
	el := b.at.Sub(a.at).Seconds()
	if el <= 0 || b.ticks < a.ticks {
		return 0
	}
	return math.Round(float64(b.ticks-a.ticks)/userHZ/el*100) / 100
}
