package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/pkgver"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

var softwareTests = []subtest{
	{"set difference and host counts", testSoftwareSetDifference},
	{"catalog key", testSoftwareCatalogKey},
	{"search filters", testSearchFilters},
	{"search pages", testSearchPages},
	{"search default limit", testSearchDefaultLimit},
	{"search name forms", testSearchNameForms},
	{"search version constraints", testSearchVersionConstraints},
	{"search forms page", testSearchFormsPage},
	{"versions count live hosts", testSoftwareVersions},
	{"versions follow retired hosts", testVersionsFollowRetiredHosts},
	{"undecodable section", testSoftwareUndecodable},
	{"odd package fields", testSoftwareOddFields},
	{"concurrent batches", testSoftwareConcurrent},
}

var (
	pkgA1 = inventory.Package{Name: "openssl", Version: "3.0.1", Arch: "amd64", Source: "dpkg", Publisher: "Debian"}
	pkgA2 = inventory.Package{Name: "openssl", Version: "3.0.2", Arch: "amd64", Source: "dpkg"}
	pkgB  = inventory.Package{Name: "curl", Version: "7.88", Arch: "amd64", Source: "dpkg"}
)

func softwareSection(t *testing.T, pkgs ...inventory.Package) wire.Section {
	t.Helper()
	if pkgs == nil {
		pkgs = []inventory.Package{}
	}
	return section(t, inventory.SectionSoftware, inventory.Software{Packages: pkgs})
}

// setSoftware sends one inventory holding only a software section.
func setSoftware(t *testing.T, st store.Store, host int64, seq uint64, pkgs ...inventory.Package) {
	t.Helper()
	sw := softwareSection(t, pkgs...)
	apply(t, st, []store.Message{invMsg(host, seq, at(time.Minute), wire.Inventory{
		CollectedAt: t0, Digest: digest(sw), Sections: []wire.Section{sw},
	})}, []store.Result{{}})
}

// ver parses a version constraint.
func ver(s string) pkgver.Constraint {
	c, err := pkgver.Parse(s)
	if err != nil {
		panic(err)
	}
	return c
}

func search(t *testing.T, st store.Store, q store.SoftwareQuery) []store.SoftwareHit {
	t.Helper()
	hits, err := st.SearchSoftware(t.Context(), q)
	if err != nil {
		t.Fatalf("search %+v: %v", q, err)
	}
	return hits
}

// hitKeys renders hits as "name version host" for comparison.
func hitKeys(hits []store.SoftwareHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s %s %d", h.Name, h.Version, h.HostID))
	}
	return out
}

func hostCount(t *testing.T, st store.Store, softwareID int64) int64 {
	t.Helper()
	c, ok := st.(Counter)
	if !ok {
		t.Fatalf("%T does not implement storetest.Counter", st)
	}
	n, err := c.SoftwareHostCount(t.Context(), softwareID)
	if err != nil {
		t.Fatalf("host count of %d: %v", softwareID, err)
	}
	return n
}

// checkCounts checks, per software name, the number of (host, catalog row)
// links and that every catalog row's host_count equals its own links.
func checkCounts(t *testing.T, st store.Store, want map[string]int64) {
	t.Helper()
	for name, n := range want {
		hits := search(t, st, store.SoftwareQuery{Name: name, Limit: 1000})
		if int64(len(hits)) != n {
			t.Errorf("%s: %d links, want %d", name, len(hits), n)
		}
		links := map[int64]int64{}
		for _, h := range hits {
			links[h.SoftwareID]++
		}
		for id, l := range links {
			if c := hostCount(t, st, id); c != l {
				t.Errorf("%s: software %d host_count = %d, links = %d", name, id, c, l)
			}
		}
	}
}

func testSoftwareSetDifference(t *testing.T, st store.Store) {
	h1, h2 := enroll(t, st, "one"), enroll(t, st, "two")
	s1, s2 := softwareSection(t, pkgA1, pkgB), softwareSection(t, pkgA1)
	apply(t, st, []store.Message{
		invMsg(h1, 1, t0, wire.Inventory{CollectedAt: t0, Digest: digest(s1), Sections: []wire.Section{s1}}),
		invMsg(h2, 1, t0, wire.Inventory{CollectedAt: t0, Digest: digest(s2), Sections: []wire.Section{s2}}),
	}, []store.Result{{}, {}})
	hits := search(t, st, store.SoftwareQuery{Name: "openssl"})
	if got, want := hitKeys(hits), []string{fmt.Sprintf("openssl 3.0.1 %d", h1), fmt.Sprintf("openssl 3.0.1 %d", h2)}; !slices.Equal(got, want) {
		t.Fatalf("openssl hits = %q, want %q", got, want)
	}
	a1 := hits[0].SoftwareID
	if hits[0].Hostname != "one" || hits[1].Hostname != "two" || hits[0].Source != "dpkg" || hits[0].Arch != "amd64" {
		t.Errorf("hits = %+v", hits)
	}
	checkCounts(t, st, map[string]int64{"openssl": 2, "curl": 1})

	// h1 upgrades openssl: one link goes, one comes, curl is untouched.
	setSoftware(t, st, h1, 2, pkgA2, pkgB)
	if got, want := hitKeys(search(t, st, store.SoftwareQuery{Name: "openssl", Version: ver("3.0.1")})), []string{fmt.Sprintf("openssl 3.0.1 %d", h2)}; !slices.Equal(got, want) {
		t.Errorf("openssl 3.0.1 = %q, want %q", got, want)
	}
	if got, want := hitKeys(search(t, st, store.SoftwareQuery{Name: "openssl", Version: ver("3.0.2")})), []string{fmt.Sprintf("openssl 3.0.2 %d", h1)}; !slices.Equal(got, want) {
		t.Errorf("openssl 3.0.2 = %q, want %q", got, want)
	}
	if n := hostCount(t, st, a1); n != 1 {
		t.Errorf("openssl 3.0.1 host_count = %d, want 1", n)
	}
	checkCounts(t, st, map[string]int64{"openssl": 2, "curl": 1})

	// Removing the section unlinks everything of h1.
	apply(t, st, []store.Message{invMsg(h1, 3, t0, wire.Inventory{
		CollectedAt: t0, Digest: digest(), Removed: []string{inventory.SectionSoftware},
	})}, []store.Result{{}})
	checkCounts(t, st, map[string]int64{"openssl": 1, "curl": 0})
	// An empty package list unlinks everything of h2; the catalog row stays
	// with a count of zero.
	setSoftware(t, st, h2, 2)
	checkCounts(t, st, map[string]int64{"openssl": 0})
	if n := hostCount(t, st, a1); n != 0 {
		t.Errorf("openssl 3.0.1 host_count = %d, want 0", n)
	}
	// Relinking reuses the catalog row.
	setSoftware(t, st, h2, 3, pkgA1)
	if hits := search(t, st, store.SoftwareQuery{Name: "openssl"}); len(hits) != 1 || hits[0].SoftwareID != a1 {
		t.Errorf("relinked openssl = %+v, want catalog id %d", hits, a1)
	}
	checkCounts(t, st, map[string]int64{"openssl": 1})
}

func testSoftwareCatalogKey(t *testing.T, st store.Store) {
	h1, h2 := enroll(t, st, "one"), enroll(t, st, "two")
	i386 := pkgA1
	i386.Arch = "i386"
	snap := pkgA1
	snap.Source = "snap"
	// A package listed twice counts once; publisher is not part of the key.
	other := pkgA1
	other.Publisher = "someone else"
	setSoftware(t, st, h1, 1, pkgA1, pkgA1, i386, snap, other)
	setSoftware(t, st, h2, 1, pkgA1)
	hits := search(t, st, store.SoftwareQuery{Name: "openssl"})
	ids := map[int64]bool{}
	for _, h := range hits {
		ids[h.SoftwareID] = true
	}
	if len(hits) != 4 || len(ids) != 3 {
		t.Errorf("hits = %+v; want 4 links to 3 catalog rows", hits)
	}
	checkCounts(t, st, map[string]int64{"openssl": 4})
}

func testSearchFilters(t *testing.T, st store.Store) {
	h := enroll(t, st, "one")
	setSoftware(t, st, h, 1, pkgA1, pkgB)
	cases := []struct {
		q    store.SoftwareQuery
		want int
	}{
		{store.SoftwareQuery{Name: "openssl"}, 1},
		{store.SoftwareQuery{Name: "OpenSSL", Match: store.MatchExact}, 0},
		{store.SoftwareQuery{Name: "open", Match: store.MatchExact}, 0},
		{store.SoftwareQuery{Name: "openssl", Version: ver("3.0.1")}, 1},
		{store.SoftwareQuery{Name: "openssl", Version: ver("3.0")}, 0},
		{store.SoftwareQuery{Name: "curl", Version: ver("3.0.1")}, 0},
		{store.SoftwareQuery{Name: "", Match: store.MatchExact}, 0},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s@%s", c.q.Name, c.q.Version), func(t *testing.T) {
			if got := search(t, st, c.q); len(got) != c.want {
				t.Errorf("hits = %+v, want %d", got, c.want)
			}
		})
	}
}

func testSearchPages(t *testing.T, st store.Store) {
	var hosts []int64
	for i := range 3 {
		hosts = append(hosts, enroll(t, st, fmt.Sprintf("h%d", i)))
	}
	// Host 2 reports first, so catalog ids and host ids disagree in order.
	setSoftware(t, st, hosts[2], 1, pkgA2, pkgA1)
	setSoftware(t, st, hosts[0], 1, pkgA1, pkgA2, pkgB)
	setSoftware(t, st, hosts[1], 1, pkgA1)
	all := search(t, st, store.SoftwareQuery{Name: "openssl"})
	if len(all) != 5 {
		t.Fatalf("hits = %d, want 5", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b store.SoftwareHit) int {
		if a.SoftwareID != b.SoftwareID {
			return int(a.SoftwareID - b.SoftwareID)
		}
		return int(a.HostID - b.HostID)
	}) {
		t.Errorf("hits not in (software_id, host_id) order: %+v", all)
	}
	for _, size := range []int{1, 2, 4, 5} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			var got []store.SoftwareHit
			q := store.SoftwareQuery{Name: "openssl", Limit: size}
			for range 10 {
				page := search(t, st, q)
				if len(page) > size {
					t.Fatalf("page of %d, limit %d", len(page), size)
				}
				got = append(got, page...)
				if len(page) < size {
					break
				}
				last := page[len(page)-1]
				q.AfterSoftwareID, q.AfterHostID = last.SoftwareID, last.HostID
			}
			if !slices.Equal(got, all) {
				t.Errorf("paged hits = %+v, want %+v", got, all)
			}
		})
	}
	// After the last host of the first catalog row comes the second row's first host.
	first := all[0].SoftwareID
	var lastOfFirst store.SoftwareHit
	for _, h := range all {
		if h.SoftwareID == first {
			lastOfFirst = h
		}
	}
	page := search(t, st, store.SoftwareQuery{Name: "openssl", AfterSoftwareID: first, AfterHostID: lastOfFirst.HostID, Limit: 1})
	if len(page) != 1 || page[0].SoftwareID == first {
		t.Errorf("page after the first row = %+v", page)
	}
}

func testSearchDefaultLimit(t *testing.T, st store.Store) {
	var msgs []store.Message
	var want []store.Result
	sw := softwareSection(t, pkgB)
	for i := range 101 {
		id := enroll(t, st, fmt.Sprintf("h%03d", i))
		msgs = append(msgs, invMsg(id, 1, t0, wire.Inventory{CollectedAt: t0, Digest: digest(sw), Sections: []wire.Section{sw}}))
		want = append(want, store.Result{})
	}
	apply(t, st, msgs, want)
	for _, limit := range []int{0, -5} {
		if hits := search(t, st, store.SoftwareQuery{Name: "curl", Limit: limit}); len(hits) != 100 {
			t.Errorf("limit %d: %d hits, want 100", limit, len(hits))
		}
	}
	checkCounts(t, st, map[string]int64{"curl": 101})
}

func testSoftwareUndecodable(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	setSoftware(t, st, id, 1, pkgA1)
	// Valid JSON, valid hash, but not a software list: stored as sent,
	// links left as they were, the batch not failed.
	bad := rawSection(inventory.SectionSoftware, `{"packages":5}`)
	apply(t, st, []store.Message{invMsg(id, 2, t0, wire.Inventory{
		CollectedAt: t0, Digest: digest(bad), Sections: []wire.Section{bad},
	})}, []store.Result{{}})
	if doc := getInventory(t, st, id); string(doc.Sections[inventory.SectionSoftware]) != `{"packages":5}` {
		t.Errorf("software section = %s", doc.Sections[inventory.SectionSoftware])
	}
	checkCounts(t, st, map[string]int64{"openssl": 1})
}

func testSoftwareOddFields(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	long := strings.Repeat("x", 5000)
	setSoftware(t, st, id, 1,
		inventory.Package{Name: long, Version: long, Source: "msix", Publisher: long},
		inventory.Package{Name: "nul\x00name", Version: "1", Source: "dpkg"},
		inventory.Package{Name: "", Version: "1", Source: "dpkg"},
		inventory.Package{Name: "Grüße 日本", Version: "1.0", Source: "windows_registry"},
	)
	hits := search(t, st, store.SoftwareQuery{Name: "Grüße 日本", Version: ver("1.0")})
	if len(hits) != 1 || hits[0].Source != "windows_registry" || hits[0].Arch != "" {
		t.Errorf("unicode package hits = %+v", hits)
	}
}

// testSoftwareConcurrent sends batches from several goroutines, as ingest
// workers do, all touching the same popular packages in different orders.
// None may fail (deadlocks included) and counts must match links after.
func testSoftwareConcurrent(t *testing.T, st store.Store) {
	const workers, hostsEach, rounds, pkgs = 4, 5, 4, 40
	var all []inventory.Package
	for i := range pkgs {
		all = append(all, inventory.Package{Name: fmt.Sprintf("lib%02d", i), Version: "1", Source: "dpkg"})
	}
	hosts := make([][]int64, workers)
	for w := range workers {
		for h := range hostsEach {
			hosts[w] = append(hosts[w], enroll(t, st, fmt.Sprintf("w%d-h%d", w, h)))
		}
	}
	// last[w][h] is the package set worker w last sent for its host h.
	last := make([][][]inventory.Package, workers)
	var wg sync.WaitGroup
	for w := range workers {
		last[w] = make([][]inventory.Package, hostsEach)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for r := range rounds {
				var msgs []store.Message
				for h, id := range hosts[w] {
					// A random subset, in random order: links come and go.
					pick := slices.Clone(all)
					rng.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
					last[w][h] = pick[:10+rng.IntN(pkgs-10)]
					sw := softwareSection(t, last[w][h]...)
					msgs = append(msgs, invMsg(id, uint64(r+1), t0, wire.Inventory{
						CollectedAt: t0, Digest: digest(sw), Sections: []wire.Section{sw},
					}))
				}
				rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
				if _, err := st.ApplyBatch(t.Context(), msgs); err != nil {
					t.Errorf("worker %d round %d: %v", w, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := map[string]int64{}
	for _, p := range all {
		want[p.Name] = 0
	}
	for w := range last {
		for _, set := range last[w] {
			for _, p := range set {
				want[p.Name]++
			}
		}
	}
	checkCounts(t, st, want)
}

// searchFleet enrolls three hosts with a mix of dpkg, rpm and other
// packages whose names differ in case, and retires a fourth that has some
// of them.
func searchFleet(t *testing.T, st store.Store) (h1, h2, h3 int64) {
	t.Helper()
	h1, h2, h3 = enroll(t, st, "one"), enroll(t, st, "two"), enroll(t, st, "three")
	gone := enroll(t, st, "gone")
	p := func(name, version, source string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Arch: "amd64", Source: source}
	}
	setSoftware(t, st, h1, 1, p("openssl", "3.0.11-1~deb12u2", "dpkg"), p("libssl3", "3.0.11-1~deb12u2", "dpkg"),
		p("python3.11", "3.11.2-6", "dpkg"), p("bash", "5.2.15-2+b2", "dpkg"))
	setSoftware(t, st, h2, 1, p("openssl", "3.0.14-1~deb12u1", "dpkg"), p("libssl3", "3.0.14-1~deb12u1", "dpkg"),
		p("Python", "3.12.1", "homebrew"), p("BASH", "5.3", "homebrew"))
	setSoftware(t, st, h3, 1, p("openssl", "1:3.0.7-27.el9", "rpm"), p("openssl-libs", "1:3.0.7-27.el9", "rpm"),
		p("bash", "5.1.8-9.el9", "rpm"), p("open_vm_tools", "12.3.0~rc1", "rpm"))
	setSoftware(t, st, gone, 1, p("openssl", "3.0.2-0ubuntu1", "dpkg"), p("openssl", "3.0.11-1~deb12u2", "dpkg"))
	if _, err := st.RetireHost(t.Context(), gone, "alice", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return h1, h2, h3
}

// nameHosts renders hits as "name host" for comparison.
func nameHosts(hits []store.SoftwareHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s %s", h.Name, h.Hostname))
	}
	slices.Sort(out)
	return out
}

func testSearchNameForms(t *testing.T, st store.Store) {
	searchFleet(t, st)
	cases := []struct {
		name  string
		match store.NameMatch
		want  []string
	}{
		{"lib", "", []string{"libssl3 one", "libssl3 two"}},
		{"pyth", "", []string{"Python two", "python3.11 one"}},
		{"BASH", "", []string{"BASH two", "bash one", "bash three"}},
		{"OPENSSL-", "", []string{"openssl-libs three"}},
		{"open_", "", []string{"open_vm_tools three"}}, // "_" is no wildcard
		{"open%", "", nil}, // nor is "%"
		{"*ssl*", "", []string{"libssl3 one", "libssl3 two", "openssl one", "openssl three", "openssl two", "openssl-libs three"}},
		{"*SSL", "", []string{"openssl one", "openssl three", "openssl two"}},
		{"o*s", "", []string{"open_vm_tools three", "openssl-libs three"}},
		{"lib*3", "", []string{"libssl3 one", "libssl3 two"}},
		{"*", "", []string{"BASH two", "Python two", "bash one", "bash three", "libssl3 one", "libssl3 two",
			"open_vm_tools three", "openssl one", "openssl three", "openssl two", "openssl-libs three", "python3.11 one"}},
		{"pyth", store.MatchGlob, nil},
		{"*ssl*", store.MatchPrefix, nil},
		{"bash", store.MatchExact, []string{"bash one", "bash three"}},
		{"BASH", store.MatchExact, []string{"BASH two"}},
		{"bas", store.MatchExact, nil},
		{"python3.11", store.MatchExact, []string{"python3.11 one"}},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+string(c.match), func(t *testing.T) {
			got := nameHosts(search(t, st, store.SoftwareQuery{Name: c.name, Match: c.match, Limit: 100}))
			if !slices.Equal(got, c.want) {
				t.Errorf("hits = %q, want %q", got, c.want)
			}
		})
	}
}

func testSearchVersionConstraints(t *testing.T, st store.Store) {
	searchFleet(t, st)
	cases := []struct {
		name, constraint string
		want             []string
	}{
		// dpkg: 3.0.14-1~deb12u1 is not < 3.0.14; rpm: the epoch wins.
		{"openssl", ">=3.0.0 <3.0.14", []string{"openssl 3.0.11-1~deb12u2 one"}},
		{"openssl", ">=3.0.0,<=3.0.14-1~deb12u1", []string{"openssl 3.0.11-1~deb12u2 one", "openssl 3.0.14-1~deb12u1 two"}},
		{"openssl", ">=1:3", []string{"openssl 1:3.0.7-27.el9 three", "openssl-libs 1:3.0.7-27.el9 three"}},
		{"openssl-", "=1:3.0.7", []string{"openssl-libs 1:3.0.7-27.el9 three"}}, // rpm: no release, any release
		{"openssl", "!=3.0.14-1~deb12u1,<1:0", []string{"openssl 3.0.11-1~deb12u2 one"}},
		{"openssl", "3.0.11-1~deb12u2", []string{"openssl 3.0.11-1~deb12u2 one"}},
		{"BASH", "<5.3", []string{"bash 5.1.8-9.el9 three", "bash 5.2.15-2+b2 one"}},
		{"bash", ">5.2", []string{"BASH 5.3 two", "bash 5.2.15-2+b2 one"}},
		{"open_", "<12.3.0", []string{"open_vm_tools 12.3.0~rc1 three"}},              // rpm: "~" before the release
		{"pyth", ">3.11.2", []string{"Python 3.12.1 two", "python3.11 3.11.2-6 one"}}, // dpkg: a revision is newer
		{"pyth", ">3.11.2-6", []string{"Python 3.12.1 two"}},
	}
	for _, c := range cases {
		t.Run(c.name+" "+c.constraint, func(t *testing.T) {
			var got []string
			for _, h := range search(t, st, store.SoftwareQuery{Name: c.name, Version: ver(c.constraint), Limit: 100}) {
				got = append(got, fmt.Sprintf("%s %s %s", h.Name, h.Version, h.Hostname))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("hits = %q, want %q", got, c.want)
			}
		})
	}
}

// testSearchFormsPage pages a prefix search one hit at a time: every hit
// comes once, in (software id, host id) order.
func testSearchFormsPage(t *testing.T, st store.Store) {
	searchFleet(t, st)
	all := search(t, st, store.SoftwareQuery{Name: "*S*", Limit: 100})
	var paged []store.SoftwareHit
	q := store.SoftwareQuery{Name: "*S*", Limit: 1}
	for range 100 {
		page := search(t, st, q)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		q.AfterSoftwareID, q.AfterHostID = page[0].SoftwareID, page[0].HostID
	}
	if len(all) != 10 || !slices.Equal(paged, all) {
		t.Errorf("paged = %+v\nall = %+v", paged, all)
	}
	if !slices.IsSortedFunc(all, func(a, b store.SoftwareHit) int {
		if a.SoftwareID != b.SoftwareID {
			return int(a.SoftwareID - b.SoftwareID)
		}
		return int(a.HostID - b.HostID)
	}) {
		t.Errorf("hits not in (software id, host id) order: %+v", all)
	}
}

func testSoftwareVersions(t *testing.T, st store.Store) {
	searchFleet(t, st)
	// A second host with openssl 3.0.11: two hosts for that version; the
	// retired host's 3.0.2 and 3.0.11 count nowhere.
	h4 := enroll(t, st, "four")
	setSoftware(t, st, h4, 1, inventory.Package{Name: "openssl", Version: "3.0.11-1~deb12u2", Arch: "arm64", Source: "dpkg"})
	// A deleted host takes its links and their counts with it.
	h5 := enroll(t, st, "five")
	setSoftware(t, st, h5, 1, inventory.Package{Name: "openssl", Version: "3.0.14-1~deb12u1", Arch: "amd64", Source: "dpkg"},
		inventory.Package{Name: "openssl-dbg", Version: "1", Arch: "amd64", Source: "dpkg"})
	if err := st.DeleteHost(t.Context(), h5, "alice", at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	versions := func(q store.SoftwareQuery) []string {
		t.Helper()
		vs, err := st.SoftwareVersions(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%s %s %s %d", v.Name, v.Version, v.Source, v.Hosts))
		}
		return out
	}
	cases := []struct {
		q    store.SoftwareQuery
		want []string
	}{
		{store.SoftwareQuery{Name: "openssl", Match: store.MatchExact}, []string{
			"openssl 3.0.11-1~deb12u2 dpkg 2", "openssl 3.0.14-1~deb12u1 dpkg 1", "openssl 1:3.0.7-27.el9 rpm 1"}},
		{store.SoftwareQuery{Name: "OpenSSL"}, []string{
			"openssl 3.0.11-1~deb12u2 dpkg 2", "openssl 3.0.14-1~deb12u1 dpkg 1", "openssl 1:3.0.7-27.el9 rpm 1",
			"openssl-libs 1:3.0.7-27.el9 rpm 1"}},
		{store.SoftwareQuery{Name: "*ssl3", Version: ver(">=3.0.12")}, []string{"libssl3 3.0.14-1~deb12u1 dpkg 1"}},
		{store.SoftwareQuery{Name: "bash", Version: ver("<5.3")}, []string{"bash 5.2.15-2+b2 dpkg 1", "bash 5.1.8-9.el9 rpm 1"}},
		{store.SoftwareQuery{Name: "nothing"}, nil},
	}
	for _, c := range cases {
		if got := versions(c.q); !slices.Equal(got, c.want) {
			t.Errorf("versions %q %q = %q, want %q", c.q.Name, c.q.Version, got, c.want)
		}
	}
}
