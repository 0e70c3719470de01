package bench

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// Histogram counts durations in nanoseconds in log-linear buckets: exact
// below 128 ns, then 64 buckets per power of two, so a percentile read from
// it is within 0.8% of the true one. It has a fixed size (18 KiB), records
// without allocating, and histograms from several goroutines merge. Values
// from 2^40 ns (18 minutes) up are counted as 2^40-1. A Histogram is not
// safe for concurrent use.
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // values below are exact
	histHalf    = histSub / 2      // buckets per power of two above
	histMaxBits = 40
	histBuckets = histSub + (histMaxBits-histSubBits)*histHalf
)

func bucketOf(v int64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits
	return histSub + (e-1)*histHalf + int(v>>e) - histHalf
}

// bucketMid is the middle of bucket i, the value reported for it.
func bucketMid(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	k := i - histSub
	e := k/histHalf + 1
	lo := int64(k%histHalf+histHalf) << e
	return lo + (int64(1)<<e)/2
}

// Record counts one duration; a negative one counts as 0.
func (h *Histogram) Record(ns int64) {
	ns = min(max(ns, 0), 1<<histMaxBits-1)
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	h.max = max(h.max, ns)
	h.counts[bucketOf(ns)]++
	h.n++
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Quantile returns the duration that a fraction q of the recorded ones do
// not exceed (nearest rank), kept within the smallest and largest recorded;
// 0 when nothing was recorded. Quantile(1) is the largest exactly.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(max(bucketMid(i), h.min), h.max)
		}
	}
	return h.max
}

// Latency is a latency summary in microseconds, as reported.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Summary returns h's percentiles in microseconds, to 0.1 µs.
func (h *Histogram) Summary() Latency {
	us := func(ns int64) float64 { return math.Round(float64(ns)/100) / 10 }
	return Latency{
		P50:  us(h.Quantile(0.50)),
		P90:  us(h.Quantile(0.90)),
		P99:  us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)),
		Max:  us(h.Quantile(1)),
	}
}

// seqResult says how a sequence number arrived.
type seqResult int

const (
	seqNext      seqResult = iota // the one after the highest so far
	seqAhead                      // higher than that: some are missing, for now
	seqLate                       // one of the missing ones: reordered
	seqDuplicate                  // seen before
)

// seqSpan is the missing sequence numbers lo..hi-1.
type seqSpan struct{ lo, hi int64 }

// maxSpans bounds the memory of a sequence: past it the oldest gap is forgotten.
const maxSpans = 1024

// sequence follows the sequence numbers one receiver gets from one sender, which
// sends 1, 2, 3, ...: how many arrived, how many arrived after a higher one
// (reordered) and how many arrived twice (duplicates).
//
// It keeps the gaps below the highest number seen. A number that fills a gap
// is late; one that is neither in a gap nor new is a duplicate. Past
// maxSpans gaps (a sender whose frames the server keeps refusing) the
// oldest are forgotten, and a number below them that turns up is counted as
// late: going backwards, it is reordered for sure, a duplicate perhaps.
type sequence struct {
	next       int64 // one past the highest number seen; 0 before any
	floor      int64 // gaps below this are forgotten
	gaps       []seqSpan
	Received   int64 // distinct numbers seen
	Reordered  int64 // distinct numbers that came after a higher one
	Duplicates int64 // numbers seen again
}

// Observe records the arrival of n (n >= 1).
func (s *sequence) Observe(n int64) seqResult {
	if s.next == 0 {
		s.next = 1
	}
	switch {
	case n == s.next:
		s.next++
		s.Received++
		return seqNext
	case n > s.next:
		if len(s.gaps) == maxSpans {
			s.floor = s.gaps[0].hi
			s.gaps = slices.Delete(s.gaps, 0, 1)
		}
		s.gaps = append(s.gaps, seqSpan{s.next, n})
		s.next = n + 1
		s.Received++
		return seqAhead
	case n < s.floor:
		s.Received++
		s.Reordered++
		return seqLate
	}
	i := sort.Search(len(s.gaps), func(i int) bool { return s.gaps[i].hi > n })
	if i == len(s.gaps) || n < s.gaps[i].lo {
		s.Duplicates++
		return seqDuplicate
	}
	g := s.gaps[i]
	switch {
	case g.lo == n && g.hi == n+1:
		s.gaps = slices.Delete(s.gaps, i, i+1)
	case g.lo == n:
		s.gaps[i].lo++
	case g.hi == n+1:
		s.gaps[i].hi--
	default:
		s.gaps[i].hi = n
		s.gaps = slices.Insert(s.gaps, i+1, seqSpan{n + 1, g.hi})
	}
	s.Received++
	s.Reordered++
	return seqLate
}

// Missing returns how many numbers below the highest seen have not arrived
// (forgotten gaps aside).
func (s *sequence) Missing() int64 {
	var m int64
	for _, g := range s.gaps {
		m += g.hi - g.lo
	}
	return m
}

// errorCounts counts failures by code; safe for concurrent use.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int64
}

func (e *errorCounts) add(code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	e.m[code]++
}

// snapshot returns a copy, never nil, so that the report shows {}.
func (e *errorCounts) snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]int64, len(e.m))
	for k, v := range e.m {
		m[k] = v
	}
	return m
}

func (e *errorCounts) total() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, v := range e.m {
		n += v
	}
	return n
}

// micros writes a latency in microseconds for people: 87µs, 1.52ms, 2.31s.
func micros(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'f', 2, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
}

// commas writes n with thousands separators, for people.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
