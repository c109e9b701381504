package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: every power of two is split into
// 2^subBits equal buckets, so a recorded value is known to within 1/64
// (1.6 %) of itself, in the manner of an HDR histogram with two significant
// digits.
const (
	subBits    = 6
	subBuckets = 1 << subBits
	// numBuckets covers every non-negative int64: values below
	// 2*subBuckets have a bucket each, and each of the remaining 63-subBits
	// powers of two gets subBuckets more.
	numBuckets = (64 - subBits) * subBuckets
)

// Histogram counts durations in log-linear buckets: exact below 128 ns,
// then 64 buckets per power of two. It takes a few tens of kilobytes
// whatever it records, adds in constant time and merges by addition. The
// zero value is ready to use; it is not safe for concurrent use (give each
// goroutine its own and Merge them).
type Histogram struct {
	counts   [numBuckets]uint64
	total    uint64
	sum      float64 // nanoseconds, for the mean
	min, max time.Duration
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.total++
	h.sum += float64(d)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Min returns the smallest recorded value, exactly (0 when empty).
func (h *Histogram) Min() time.Duration { return h.min }

// Max returns the largest recorded value, exactly (0 when empty).
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the arithmetic mean of the recorded values (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the value at or below which a fraction q (0..1) of the
// recorded values lie, by the nearest-rank method: the smallest recorded
// value whose rank is at least q×Count. The answer is the middle of that
// value's bucket, within 1.6 % of it, and never outside [Min, Max]. It is 0
// when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	rank = min(rank, h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			mid := time.Duration(low + width/2)
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max // unreachable: the counts add up to total
}

// CDF returns, for each non-empty bucket in increasing order, the bucket's
// upper bound and the fraction of values at or below it: the points of the
// latency distribution, ready to plot.
func (h *Histogram) CDF() []CDFPoint {
	var points []CDFPoint
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		low, width := bucketRange(i)
		upper := min(time.Duration(low+width-1), h.max)
		points = append(points, CDFPoint{Value: upper, Fraction: float64(seen) / float64(h.total)})
	}
	return points
}

// CDFPoint is one point of a cumulative distribution: Fraction of the
// values are at or below Value.
type CDFPoint struct {
	Value    time.Duration
	Fraction float64
}

// bucketOf returns the bucket of v. Below 2*subBuckets a bucket holds one
// value; above, v is shifted right until it has subBits+1 significant bits,
// and the shift picks the group of subBuckets buckets while the remaining
// bits pick the bucket inside it.
func bucketOf(v uint64) int {
	shift := max(bits.Len64(v)-subBits-1, 0)
	return shift*subBuckets + int(v>>shift)
}

// bucketRange returns the smallest value of bucket i and how many values it
// holds; the inverse of bucketOf.
func bucketRange(i int) (low, width uint64) {
	if i < 2*subBuckets {
		return uint64(i), 1
	}
	shift := i/subBuckets - 1
	mantissa := uint64(i - shift*subBuckets)
	return mantissa << shift, 1 << shift
}
