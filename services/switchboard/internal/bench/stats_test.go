package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lands in a bucket whose middle is within 0.8% of it, and
	// buckets grow with the value.
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 65_432, 1 << 20, 123_456_789, 1<<40 - 1} {
		b := bucketOf(v)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, b, prev, histBuckets)
		}
		prev = b
		if mid := bucketMid(b); math.Abs(float64(mid-v)) > float64(v)/128+1 {
			t.Errorf("value %d: bucket middle %d is too far", v, mid)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	exact := func(vs []int64, q float64) int64 {
		s := slices.Clone(vs)
		slices.Sort(s)
		return s[max(int(math.Ceil(q*float64(len(s))))-1, 0)]
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		vs   []int64
	}{
		{"one value", []int64{42_000}},
		{"small exact values", []int64{5, 1, 3, 2, 4}},
		{"1 to 10000 µs", func() []int64 {
			var vs []int64
			for i := range int64(10_000) {
				vs = append(vs, (i+1)*1000)
			}
			return vs
		}()},
		{"long tail", func() []int64 {
			var vs []int64
			for range 100_000 {
				vs = append(vs, int64(r.ExpFloat64()*50_000)+20_000)
			}
			return vs
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Recorded in two halves and merged, as readers do.
			var a, b Histogram
			for i, v := range tc.vs {
				if i%2 == 0 {
					a.Record(v)
				} else {
					b.Record(v)
				}
			}
			a.Merge(&b)
			if a.Count() != uint64(len(tc.vs)) {
				t.Fatalf("count %d, want %d", a.Count(), len(tc.vs))
			}
			last := int64(-1)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				got, want := a.Quantile(q), exact(tc.vs, q)
				if math.Abs(float64(got-want)) > float64(want)/100+1 {
					t.Errorf("q%v = %d, want %d within 1%%", q, got, want)
				}
				if got < last {
					t.Errorf("q%v = %d is below the quantile before it, %d", q, got, last)
				}
				last = got
			}
			if a.Quantile(1) != slices.Max(tc.vs) {
				t.Errorf("max %d, want %d exactly", a.Quantile(1), slices.Max(tc.vs))
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Summary() != (Latency{}) {
		t.Fatal("an empty histogram reports something")
	}
	h.Record(-5)      // a clock that went backwards counts as 0
	h.Record(1 << 50) // past the range: clamped
	if h.Quantile(0) != 0 || h.Quantile(1) != 1<<40-1 {
		t.Fatalf("min %d max %d", h.Quantile(0), h.Quantile(1))
	}
	var s Histogram
	s.Record(1_234_567) // 1234.567 µs
	if got := s.Summary(); got.P50 != 1234.6 || got.Max != 1234.6 {
		t.Fatalf("summary %+v, want 1234.6 µs", got)
	}
}

func TestSequence(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		arrivals                      []int64
		received, reordered, dup, gap int64
	}{
		{"in order", []int64{1, 2, 3, 4}, 4, 0, 0, 0},
		{"a gap that stays", []int64{1, 2, 5, 6}, 4, 0, 0, 2},
		{"swapped pair", []int64{1, 3, 2, 4}, 4, 1, 0, 0},
		{"late into the middle of a gap", []int64{1, 6, 3, 2, 5}, 5, 3, 0, 1},
		{"duplicate of the last", []int64{1, 2, 2}, 2, 0, 1, 0},
		{"duplicate of an old one", []int64{1, 2, 3, 1}, 3, 0, 1, 0},
		{"duplicate of a late one", []int64{2, 1, 1}, 2, 1, 1, 0},
		{"first one missing", []int64{2, 3}, 2, 0, 0, 1},
		{"zero never arrives from a sender", []int64{1, 0}, 1, 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sequence
			for _, n := range tc.arrivals {
				s.Observe(n)
			}
			if s.Received != tc.received || s.Reordered != tc.reordered || s.Duplicates != tc.dup || s.Missing() != tc.gap {
				t.Fatalf("received %d reordered %d duplicates %d missing %d, want %d %d %d %d",
					s.Received, s.Reordered, s.Duplicates, s.Missing(), tc.received, tc.reordered, tc.dup, tc.gap)
			}
		})
	}
}

func TestSequenceForgetsOldGaps(t *testing.T) {
	var s sequence
	// Every other number is missing: one gap each, past the bound.
	for n := int64(1); n <= 2*(maxSpans+10); n += 2 {
		s.Observe(n)
	}
	if len(s.gaps) != maxSpans {
		t.Fatalf("%d gaps kept, want %d", len(s.gaps), maxSpans)
	}
	if got := s.Observe(2); got != seqLate || s.Reordered != 1 {
		t.Fatalf("a forgotten number came back as %v", got)
	}
	last := s.gaps[len(s.gaps)-1].lo
	if got := s.Observe(last); got != seqLate {
		t.Fatalf("a kept gap filled as %v", got)
	}
	if got := s.Observe(last); got != seqDuplicate {
		t.Fatalf("the same again came as %v", got)
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45678: "-45,678"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMicros(t *testing.T) {
	for us, want := range map[float64]string{0: "0µs", 87.4: "87µs", 999.4: "999µs", 1520: "1.52ms", 2_310_000: "2.31s"} {
		if got := micros(us); got != want {
			t.Errorf("micros(%v) = %q, want %q", us, got, want)
		}
	}
}
