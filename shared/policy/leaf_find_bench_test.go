package policy

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
)

// streamWalker streams n made-up entries, ten files to a directory, one
// in every thousand world-writable: the find leaf's own cost per entry,
// without a file system under it.
type streamWalker struct {
	Env
	n int
}

func (w streamWalker) Walk(ctx context.Context, spec WalkSpec, visit func(*WalkEntry) error) (WalkStats, error) {
	var st WalkStats
	dirs := make([]string, 64)
	for i := range dirs {
		dirs[i] = fmt.Sprintf("/usr/share/doc/package-%02d/examples", i)
	}
	e := WalkEntry{Root: "/", HasIDs: true, Owner: "root", Group: "root"}
	for i := range w.n {
		e.Dir, e.Name, e.Depth = dirs[(i/10)%len(dirs)], "changelog.Debian.gz", 5
		e.Mode = 0o644
		switch {
		case i%10 == 0:
			e.Mode = fs.ModeDir | 0o755
		case i%1000 == 1:
			e.Mode = 0o666
		}
		st.Entries++
		if err := visit(&e); err != nil {
			return st, err
		}
	}
	return st, nil
}

// BenchmarkFindLeafPerEntry is the find leaf's work for each entry a
// walker hands it (ns/op is per entry), for the CIS pack's full-disk
// predicates: go test -run '^$' -bench FindLeafPerEntry -benchmem ./shared/policy/
func BenchmarkFindLeafPerEntry(b *testing.B) {
	yes := true
	for _, c := range []struct {
		name string
		fc   FindCheck
	}{
		{"world-writable-files", FindCheck{Paths: []string{"/"}, Type: "file", WorldWritable: &yes}},
		{"no-owner", FindCheck{Paths: []string{"/"}, NoOwner: &yes}},
		{"name-glob", FindCheck{Paths: []string{"/"}, Name: "*.journal*", Type: "file", OwnerNot: []string{"root"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			const perRun = 100_000
			fc := c.fc
			fc.MaxMatches = perRun
			b.ReportAllocs()
			runs := 0
			for b.Loop() {
				if _, _, err := findLeaf(context.Background(), streamWalker{n: perRun}, &fc); err != nil {
					b.Fatal(err)
				}
				runs++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(runs*perRun), "ns/entry")
		})
	}
}
