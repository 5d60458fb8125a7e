package check

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// BenchmarkFindWorldWritableRoot is the full-filesystem world-writable
// files scan of this machine, with the default file-system type excludes:
// go test -run '^$' -bench FindWorldWritableRoot -benchtime 1x
// STEWARD_BENCH_WALK_WORKERS=n sets the number of walk workers, to compare.
func BenchmarkFindWorldWritableRoot(b *testing.B) {
	if s := os.Getenv("STEWARD_BENCH_WALK_WORKERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("STEWARD_BENCH_WALK_WORKERS=%q", s)
		}
		defer func(f func() int) { walkWorkers = f }(walkWorkers)
		walkWorkers = func() int { return n }
	}
	env := NewEnv(context.Background(), Config{}, inventory.Document{})
	ps, err := policy.Parse("bench.yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: {find: {paths: [/], type: file, world_writable: true, max_matches: 1000000}}\n"))
	if err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	for b.Loop() {
		r := policy.Evaluate(context.Background(), ps[0], env)
		if r.Status != policy.StatusPass {
			b.Fatalf("%s %s %+v", r.Status, r.Error, r.Evidence)
		}
		b.Log(r.Evidence[0].Detail)
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB-sys")
}
