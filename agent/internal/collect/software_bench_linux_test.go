package collect

import (
	"context"
	"syscall"
	"testing"
)

// BenchmarkCollectSoftware measures the software section on this machine,
// reading every source present ("all"), against dpkg alone, which is all
// the section read before the other sources were added ("dpkg-only"): the
// difference is what probing for rpm, apk, pacman, snap and flatpak costs
// on a system that has few or none of them.
func BenchmarkCollectSoftware(b *testing.B) {
	all := packageSources
	for _, tc := range []struct {
		name    string
		sources int
	}{{"dpkg-only", 1}, {"all", len(all)}} {
		b.Run(tc.name, func(b *testing.B) {
			packageSources = all[:tc.sources]
			defer func() { packageSources = all }()
			cfg := Config{}.withDefaults()
			b.ReportAllocs()
			var before, after syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			for b.Loop() {
				if _, err := collectSoftware(context.Background(), cfg); err != nil {
					b.Fatal(err)
				}
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := func(r syscall.Rusage) float64 { return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e6 }
			b.ReportMetric((cpu(after)-cpu(before))/float64(b.N), "cpu-ms/op")
		})
	}
}
