package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, like HdrHistogram: values below subCount
// microseconds get a bucket each, and every power of two above that is cut
// into subCount equal buckets. A percentile is therefore exact below
// subCount µs and within 1/subCount (under 0.8 %) above, in a fixed
// 35 KiB whatever the number of samples.
const (
	subBits  = 7
	subCount = 1 << subBits
	// maxValue caps recorded values at about 12.7 days in microseconds;
	// anything slower is a hung connection, not a latency.
	maxValueBits = 40
	maxValue     = 1<<maxValueBits - 1
	numBuckets   = (maxValueBits-subBits+1)*subCount + subCount
)

// Histogram records durations with bounded memory and relative error. It
// is safe for concurrent use: recording is a few atomic adds, so thousands
// of connections can share one without a lock.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sumUS  atomic.Uint64
	maxUS  atomic.Uint64
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d / time.Microsecond)
	}
	if v > maxValue {
		v = maxValue
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sumUS.Add(v)
	for {
		m := h.maxUS.Load()
		if v <= m || h.maxUS.CompareAndSwap(m, v) {
			break
		}
	}
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest recorded duration, at microsecond resolution.
func (h *Histogram) Max() time.Duration { return time.Duration(h.maxUS.Load()) * time.Microsecond }

// Mean returns the average recorded duration, or 0 without samples.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sumUS.Load()/n) * time.Microsecond
}

// Percentile returns the smallest duration d such that at least q (0..1)
// of the samples are at or below d, rounded up to the top of d's bucket
// and never above Max. It returns 0 without samples.
func (h *Histogram) Percentile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	rank = min(rank, n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := min(bucketTop(i), h.maxUS.Load())
			return time.Duration(v) * time.Microsecond
		}
	}
	// Reached only when Record raced with this walk: the total was read
	// before some bucket counts. The maximum is then the honest answer.
	return h.Max()
}

// bucketOf maps a value in microseconds to its bucket index.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketTop is the largest value that falls into bucket i.
func bucketTop(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	mant := uint64(i%subCount + subCount)
	return (mant+1)<<shift - 1
}
