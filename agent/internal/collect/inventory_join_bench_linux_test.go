package collect

import (
	"context"
	"testing"
)

// BenchmarkJoinSections measures the collectors that carry the fields
// server-side joins read (users with groups, homes and passwords; disks
// with mount options; os with sysctl values) on this machine.
func BenchmarkJoinSections(b *testing.B) {
	cfg := Config{}.withDefaults()
	for _, c := range []struct {
		name string
		fn   collectorFunc
	}{{"users", collectUsers}, {"disks", collectDisks}, {"os", collectOS}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.fn(context.Background(), cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
