package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

var hostTests = []subtest{
	{"enroll and read back", testEnroll},
	{"enroll with labels", testEnrollLabels},
	{"unknown host", testUnknownHost},
	{"duplicate node key", testDuplicateNodeKey},
	{"connect and disconnect", testConnect},
	{"many disconnections at once", testHostsDisconnected},
	{"many connections at once", testHostsConnected},
	{"connections beside ingest", testConnectsBesideIngest},
	{"disconnections beside ingest", testDisconnectsBesideIngest},
	{"list pages", testListPages},
	{"list default limit", testListDefaultLimit},
	{"possible duplicates", testPossibleDuplicates},
	{"possible duplicates bounded", testDuplicatesBounded},
	{"node key read without duplicates", testNodeKeyWithoutDuplicates},
}

func testEnroll(t *testing.T, st store.Store) {
	ctx := t.Context()
	id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "abc123", Hostname: "web-1", EnrolledAt: t0})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if id <= 0 {
		t.Fatalf("enroll: id %d, want > 0", id)
	}
	want := store.Host{ID: id, Hostname: "web-1", EnrolledAt: t0}
	for name, get := range map[string]func() (store.Host, error){
		"GetHost":         func() (store.Host, error) { return st.GetHost(ctx, id) },
		"HostsByNodeKeys": func() (store.Host, error) { return byNodeKey(t, st, "abc123"), nil },
	} {
		h, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameTime(t, name+" enrolled_at", h.EnrolledAt, t0)
		h.EnrolledAt = t0
		if !reflect.DeepEqual(h, want) {
			t.Errorf("%s = %+v, want %+v", name, h, want)
		}
	}
	second := enroll(t, st, "web-2")
	if second == id {
		t.Errorf("second host got the same id %d", id)
	}
}

func testEnrollLabels(t *testing.T, st store.Store) {
	ctx := t.Context()
	want := map[string]string{"team": "web", "site": "paris"}
	id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "lab1", Hostname: "web-1", EnrolledAt: t0, Labels: want})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	got, err := st.HostLabels(ctx, id)
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("labels = %v, %v; want %v", got, err, want)
	}
	// A failed enrollment (the node key is taken) leaves no labels behind.
	if _, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "lab1", Hostname: "web-2", EnrolledAt: t0,
		Labels: map[string]string{"team": "db"}}); err == nil {
		t.Fatal("a second host with the same node key was enrolled")
	}
	hosts, err := st.ListHosts(ctx, store.HostPage{})
	if err != nil || len(hosts) != 1 {
		t.Fatalf("hosts after the refused enrollment = %d, %v; want 1", len(hosts), err)
	}
	if got, _ := st.HostLabels(ctx, id); !maps.Equal(got, want) {
		t.Errorf("labels after the refused enrollment = %v", got)
	}
}

func testUnknownHost(t *testing.T, st store.Store) {
	ctx := t.Context()
	known := enroll(t, st, "known")
	missing := known + 1000
	checks := []struct {
		name string
		err  error
	}{
		{"GetHost", func() error { _, err := st.GetHost(ctx, missing); return err }()},
		{"HostConnected", st.HostConnected(ctx, missing, store.HelloInfo{Hostname: "x"}, t0)},
		{"Inventory", func() error { _, err := st.Inventory(ctx, missing); return err }()},
	}
	if hs, err := st.HostsByNodeKeys(ctx, []string{"no-such-key"}); err != nil || len(hs) != 0 {
		t.Errorf("HostsByNodeKeys of an unknown key = %+v, %v; want none", hs, err)
	}
	for _, c := range checks {
		if !errors.Is(c.err, store.ErrNotFound) {
			t.Errorf("%s on unknown host: err = %v, want ErrNotFound", c.name, c.err)
		}
	}
}

func testDuplicateNodeKey(t *testing.T, st store.Store) {
	ctx := t.Context()
	if _, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "same", Hostname: "a", EnrolledAt: t0}); err != nil {
		t.Fatalf("first enroll: %v", err)
	}
	if _, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "same", Hostname: "b", EnrolledAt: t0}); err == nil {
		t.Fatal("second enroll with the same node key hash succeeded")
	}
}

func testConnect(t *testing.T, st store.Store) {
	ctx := t.Context()
	id := enroll(t, st, "old-name")
	info := store.HelloInfo{Hostname: "new-name", OS: "linux", Arch: "amd64", AgentVersion: "1.2.3"}
	if err := st.HostConnected(ctx, id, info, at(time.Minute)); err != nil {
		t.Fatalf("connected: %v", err)
	}
	h := getHost(t, st, id)
	if h.Hostname != "new-name" || h.OS != "linux" || h.Arch != "amd64" || h.AgentVersion != "1.2.3" {
		t.Errorf("after hello: %+v", h)
	}
	sameTime(t, "connected_at", h.ConnectedAt, at(time.Minute))
	sameTime(t, "last_seen", h.LastSeen, at(time.Minute))
	sameTime(t, "disconnected_at", h.DisconnectedAt, time.Time{})

	if err := st.HostsDisconnected(ctx, []store.Disconnect{{HostID: id, At: at(2 * time.Minute)}}); err != nil {
		t.Fatalf("disconnected: %v", err)
	}
	h = getHost(t, st, id)
	sameTime(t, "disconnected_at", h.DisconnectedAt, at(2*time.Minute))
	sameTime(t, "connected_at after disconnect", h.ConnectedAt, at(time.Minute))
}

func testHostsDisconnected(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := make([]int64, 50)
	var ds []store.Disconnect
	for i := range ids {
		ids[i] = enroll(t, st, fmt.Sprintf("host-%d", i))
		ds = append(ds, store.Disconnect{HostID: ids[i], At: at(time.Duration(i) * time.Second)})
	}
	// A host that was never enrolled (or was deleted) is skipped, and
	// the rest of the batch is still recorded.
	missing := ids[len(ids)-1] + 1000
	ds = append(ds, store.Disconnect{HostID: missing, At: at(time.Hour)})
	// Two ends of one host in a batch: the later one counts, in
	// whichever order they come.
	ds = append(ds, store.Disconnect{HostID: ids[0], At: at(10 * time.Minute)}, store.Disconnect{HostID: ids[0], At: at(5 * time.Minute)})
	if err := st.HostsDisconnected(ctx, ds); err != nil {
		t.Fatalf("HostsDisconnected with %d entries: %v", len(ds), err)
	}
	sameTime(t, "host 0 disconnected_at", getHost(t, st, ids[0]).DisconnectedAt, at(10*time.Minute))
	for i, id := range ids[1:] {
		sameTime(t, fmt.Sprintf("host %d disconnected_at", i+1), getHost(t, st, id).DisconnectedAt, at(time.Duration(i+1)*time.Second))
	}
	if _, err := st.GetHost(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the unknown host id exists after HostsDisconnected: %v", err)
	}

	// An older time does not overwrite a newer one; a newer one does.
	if err := st.HostsDisconnected(ctx, []store.Disconnect{
		{HostID: ids[1], At: at(0)},
		{HostID: ids[2], At: at(time.Hour)},
	}); err != nil {
		t.Fatalf("second HostsDisconnected: %v", err)
	}
	sameTime(t, "host 1 after an older time", getHost(t, st, ids[1]).DisconnectedAt, at(time.Second))
	sameTime(t, "host 2 after a newer time", getHost(t, st, ids[2]).DisconnectedAt, at(time.Hour))

	// Nothing to record, and only unknown hosts: no error either.
	if err := st.HostsDisconnected(ctx, nil); err != nil {
		t.Errorf("HostsDisconnected(nil): %v", err)
	}
	if err := st.HostsDisconnected(ctx, []store.Disconnect{{HostID: missing, At: t0}}); err != nil {
		t.Errorf("HostsDisconnected of an unknown host alone: %v", err)
	}
}

func testHostsConnected(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := make([]int64, 30)
	var cs []store.Connect
	for i := range ids {
		ids[i] = enroll(t, st, fmt.Sprintf("old-%d", i))
		cs = append(cs, store.Connect{HostID: ids[i], At: at(time.Duration(i) * time.Second),
			Info: store.HelloInfo{Hostname: fmt.Sprintf("new-%d", i), OS: "linux", Arch: "arm64", AgentVersion: fmt.Sprint("1.", i)}})
	}
	// An unknown host is reported missing, and the rest of the batch is
	// still recorded.
	missing := ids[len(ids)-1] + 1000
	cs = append(cs, store.Connect{HostID: missing, At: at(time.Hour), Info: store.HelloInfo{Hostname: "ghost"}})
	// Two hellos of one host in a batch: the later one counts, in
	// whichever order they come.
	cs = append(cs,
		store.Connect{HostID: ids[0], At: at(10 * time.Minute), Info: store.HelloInfo{Hostname: "renamed", OS: "windows"}},
		store.Connect{HostID: ids[0], At: at(5 * time.Minute), Info: store.HelloInfo{Hostname: "stale", OS: "darwin"}})
	got, err := st.HostsConnected(ctx, cs)
	if err != nil {
		t.Fatalf("HostsConnected with %d entries: %v", len(cs), err)
	}
	if len(got) != len(cs) {
		t.Fatalf("HostsConnected answered %d entries for %d", len(got), len(cs))
	}
	for i, c := range cs {
		if want := c.HostID == missing; got[i] != want {
			t.Errorf("entry %d (host %d): missing = %v, want %v", i, c.HostID, got[i], want)
		}
	}
	h := getHost(t, st, ids[0])
	if h.Hostname != "renamed" || h.OS != "windows" {
		t.Errorf("host 0 after two hellos: %q %q, want the later hello's", h.Hostname, h.OS)
	}
	sameTime(t, "host 0 connected_at", h.ConnectedAt, at(10*time.Minute))
	for i, id := range ids[1:] {
		h := getHost(t, st, id)
		if h.Hostname != fmt.Sprintf("new-%d", i+1) || h.OS != "linux" || h.Arch != "arm64" || h.AgentVersion != fmt.Sprint("1.", i+1) {
			t.Errorf("host %d after its hello: %+v", i+1, h)
		}
		sameTime(t, fmt.Sprintf("host %d connected_at", i+1), h.ConnectedAt, at(time.Duration(i+1)*time.Second))
		sameTime(t, fmt.Sprintf("host %d last_seen", i+1), h.LastSeen, at(time.Duration(i+1)*time.Second))
	}
	if _, err := st.GetHost(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the unknown host id exists after HostsConnected: %v", err)
	}
	// Nothing to record, and only unknown hosts: no error either.
	if got, err := st.HostsConnected(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("HostsConnected(nil) = %v, %v", got, err)
	}
	if got, err := st.HostsConnected(ctx, []store.Connect{{HostID: missing, At: t0}}); err != nil || len(got) != 1 || !got[0] {
		t.Errorf("HostsConnected of an unknown host alone = %v, %v; want [true], nil", got, err)
	}
}

// testConnectsBesideIngest records hellos of many hosts in batches, in no
// particular order, while ingest commits heartbeats of the same hosts, as
// when a fleet reconnects to a restarted server and the first agents are
// sending already. Neither side may fail: on PostgreSQL both lock the
// same host rows and deadlock unless both lock them in one order.
func testConnectsBesideIngest(t *testing.T, st store.Store) {
	const hosts, rounds = 400, 40
	ids := make([]int64, hosts)
	for i := range ids {
		ids[i] = enroll(t, st, fmt.Sprintf("reconnect-%d", i))
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 13))
			for r := range rounds {
				cs := make([]store.Connect, hosts)
				for i, id := range ids {
					cs[i] = store.Connect{HostID: id, At: at(time.Duration(r*hosts+i) * time.Millisecond),
						Info: store.HelloInfo{Hostname: fmt.Sprintf("reconnect-%d", i), OS: "linux"}}
				}
				rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
				if missing, err := st.HostsConnected(t.Context(), cs); err != nil {
					t.Errorf("connections, round %d: %v", r, err)
					return
				} else if slices.Contains(missing, true) {
					t.Errorf("connections, round %d: known hosts reported missing", r)
					return
				}
			}
		})
	}
	heartbeatsBeside(t, st, &wg, ids, rounds, 17)
	wg.Wait()
}

// testDisconnectsBesideIngest records disconnections of many hosts, in
// no particular order, while ingest commits heartbeats of the same hosts,
// as when thousands of agents drop at once and others keep sending (a
// load balancer or a network failing). Neither side may fail: on
// PostgreSQL both lock the same host rows, and unless both lock them in
// the same order they deadlock.
func testDisconnectsBesideIngest(t *testing.T, st store.Store) {
	const hosts, rounds = 400, 40
	ids := make([]int64, hosts)
	for i := range ids {
		ids[i] = enroll(t, st, fmt.Sprintf("churn-%d", i))
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for r := range rounds {
				ds := make([]store.Disconnect, hosts)
				for i, id := range ids {
					ds[i] = store.Disconnect{HostID: id, At: at(time.Duration(r*hosts+i) * time.Millisecond)}
				}
				rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
				if err := st.HostsDisconnected(t.Context(), ds); err != nil {
					t.Errorf("disconnections, round %d: %v", r, err)
					return
				}
			}
		})
	}
	heartbeatsBeside(t, st, &wg, ids, rounds, 11)
	wg.Wait()
	if t.Failed() {
		return
	}
	// The last disconnection of every host is the one kept.
	for i, id := range ids {
		sameTime(t, fmt.Sprintf("host %d disconnected_at", i), getHost(t, st, id).DisconnectedAt,
			at(time.Duration((rounds-1)*hosts+i)*time.Millisecond))
	}
}

// heartbeatsBeside starts, on wg, two ingest writers that each commit
// rounds batches of one heartbeat per host of ids in shuffled order
// (seed picks the order), as the tests of writes beside ingest need.
func heartbeatsBeside(t *testing.T, st store.Store, wg *sync.WaitGroup, ids []int64, rounds int, seed uint64) {
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), seed))
			for r := range rounds {
				// Each writer its own half of every host's sequence numbers.
				msgs := make([]store.Message, len(ids))
				for i, id := range ids {
					msgs[i] = heartbeat(id, uint64(2*r+w+1), at(time.Duration(r)*time.Second))
				}
				rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
				if _, err := st.ApplyBatch(t.Context(), msgs); err != nil {
					t.Errorf("heartbeats, round %d: %v", r, err)
					return
				}
			}
		})
	}
}

// listAll pages through every host with page size n.
func listAll(t *testing.T, st store.Store, n int) []store.Host {
	t.Helper()
	var all []store.Host
	p := store.HostPage{Limit: n}
	for range 100 {
		page, err := st.ListHosts(t.Context(), p)
		if err != nil {
			t.Fatalf("list hosts %+v: %v", p, err)
		}
		if len(page) > n {
			t.Fatalf("list hosts %+v: %d rows, limit %d", p, len(page), n)
		}
		all = append(all, page...)
		if len(page) < n {
			return all
		}
		last := page[len(page)-1]
		p = store.HostPage{AfterHostname: last.Hostname, AfterID: last.ID, Limit: n}
	}
	t.Fatal("list hosts: paging does not end")
	return nil
}

func testListPages(t *testing.T, st store.Store) {
	// Hostnames sort bytewise ("B" before "a"), equal names by id.
	names := []string{"b", "a", "B", "a", "", "a-1", "b"}
	ids := map[string][]int64{}
	for _, n := range names {
		ids[n] = append(ids[n], enroll(t, st, n))
	}
	order := []string{"", "B", "a", "a", "a-1", "b", "b"}
	var want []string
	seen := map[string]int{}
	for _, n := range order {
		want = append(want, fmt.Sprintf("%s#%d", n, ids[n][seen[n]]))
		seen[n]++
	}
	for _, size := range []int{1, 2, 3, len(names), len(names) + 1} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			var got []string
			for _, h := range listAll(t, st, size) {
				got = append(got, fmt.Sprintf("%s#%d", h.Hostname, h.ID))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("hosts = %q, want %q", got, want)
			}
		})
	}
	// AfterHostname alone does not page: AfterID 0 means from the start.
	page, err := st.ListHosts(t.Context(), store.HostPage{AfterHostname: "b", Limit: 1})
	if err != nil || len(page) != 1 || page[0].Hostname != "" {
		t.Errorf("AfterID 0 page = %+v, %v; want the first host", page, err)
	}
	// Strictly after: the cursor's own row is not repeated, a same-named
	// host with a larger id is not skipped.
	first := ids["a"][0]
	page, err = st.ListHosts(t.Context(), store.HostPage{AfterHostname: "a", AfterID: first, Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != ids["a"][1] {
		t.Errorf("after (a, %d) = %+v, %v; want host %d", first, page, err, ids["a"][1])
	}
	page, err = st.ListHosts(t.Context(), store.HostPage{AfterHostname: "b", AfterID: ids["b"][1], Limit: 5})
	if err != nil || len(page) != 0 {
		t.Errorf("after the last host = %+v, %v; want empty", page, err)
	}
}

func testListDefaultLimit(t *testing.T, st store.Store) {
	for i := range 101 {
		enroll(t, st, fmt.Sprintf("h%03d", i))
	}
	for _, limit := range []int{0, -1} {
		page, err := st.ListHosts(t.Context(), store.HostPage{Limit: limit})
		if err != nil {
			t.Fatalf("list hosts: %v", err)
		}
		if len(page) != 100 {
			t.Errorf("limit %d: %d hosts, want 100", limit, len(page))
		}
	}
}
