package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"
)

// relErr is the precision the bucket layout promises: one part in 64.
const relErr = 1.0 / subBuckets

func TestHistogramQuantilesOfUniformData(t *testing.T) {
	// 1 µs, 2 µs, ..., 10,000 µs: the q-quantile by nearest rank is q×10 ms.
	var h Histogram
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, time.Microsecond}, // clamped to the exact minimum
		{0.5, 5000 * time.Microsecond},
		{0.9, 9000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
		{1, 10000 * time.Microsecond}, // clamped to the exact maximum
	}
	for _, tt := range tests {
		got := h.Quantile(tt.q)
		if !near(got, tt.want) {
			t.Errorf("Quantile(%v) = %v, want %v ± %.1f%%", tt.q, got, tt.want, 100*relErr)
		}
	}
	if h.Count() != 10000 || h.Min() != time.Microsecond || h.Max() != 10*time.Millisecond {
		t.Errorf("Count, Min, Max = %d, %v, %v", h.Count(), h.Min(), h.Max())
	}
	if m := h.Mean(); m != 5000500*time.Nanosecond {
		t.Errorf("Mean = %v, want 5.0005ms", m)
	}
}

func TestHistogramQuantilesOfSkewedData(t *testing.T) {
	// 98 fast answers and 2 slow ones: p50 is fast, p99 is slow.
	var h Histogram
	for range 98 {
		h.Record(200 * time.Microsecond)
	}
	h.Record(40 * time.Millisecond)
	h.Record(50 * time.Millisecond)
	if got := h.Quantile(0.5); !near(got, 200*time.Microsecond) {
		t.Errorf("p50 = %v, want 200µs", got)
	}
	if got := h.Quantile(0.98); !near(got, 200*time.Microsecond) {
		t.Errorf("p98 = %v, want 200µs", got)
	}
	if got := h.Quantile(0.99); !near(got, 40*time.Millisecond) {
		t.Errorf("p99 = %v, want 40ms", got)
	}
}

func TestHistogramSmallValuesAreExact(t *testing.T) {
	var h Histogram
	for i := range 128 {
		h.Record(time.Duration(i))
	}
	if got := h.Quantile(0.5); got != 63 {
		t.Errorf("p50 of 0..127 ns = %d, want 63", got)
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Mean() != 0 || len(empty.CDF()) != 0 {
		t.Error("an empty histogram must answer zeros")
	}
}

func TestHistogramMergeEqualsRecordingEverything(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var all, a, b Histogram
	for i := range 50000 {
		d := time.Duration(r.ExpFloat64() * float64(time.Millisecond))
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merged histogram differs from one that recorded every value")
	}
	// Exponential with mean 1 ms: the median is ln 2 ms.
	if got, want := all.Quantile(0.5), time.Duration(0.6931*float64(time.Millisecond)); !nearWithin(got, want, 0.03) {
		t.Errorf("median = %v, want about %v", got, want)
	}
}

func TestBucketsRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 123456789, 1<<62 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		low, width := bucketRange(i)
		if v < low || v-low >= width {
			t.Errorf("%d in bucket %d = [%d, %d)", v, i, low, low+width)
		}
		if v >= 128 && float64(width)/float64(low) > relErr {
			t.Errorf("bucket of %d is %d wide at %d: coarser than 1/64", v, width, low)
		}
	}
}

func TestCDFEndsAtOne(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	cdf := h.CDF()
	last := cdf[len(cdf)-1]
	if last.Fraction != 1 || last.Value != time.Second {
		t.Errorf("last CDF point = %+v, want 1s at 1.0", last)
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i].Value <= cdf[i-1].Value || cdf[i].Fraction <= cdf[i-1].Fraction {
			t.Fatalf("CDF not increasing at %d: %+v then %+v", i, cdf[i-1], cdf[i])
		}
	}
}

func near(got, want time.Duration) bool { return nearWithin(got, want, relErr) }

func nearWithin(got, want time.Duration, rel float64) bool {
	diff := float64(got - want)
	return diff <= rel*float64(want) && -diff <= rel*float64(want)
}
