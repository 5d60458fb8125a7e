//go:build soak

package e2e

// The ingest crash test: `make soak` (go test -tags soak -run TestCrash).
// 200 simulated agents (loadgen.DurableAgent) stream inventories while
// the real steward-server is killed with SIGKILL ten times and started
// again; the agents reconnect and re-send what was not acknowledged. Each
// inventory after the first installs a package no other message names
// (crash-marker-<n>), so the host's change history records every applied
// message as one software_installed row carrying the message's sequence
// number. At the end every message the server acknowledged must be in
// that history exactly once: nothing acknowledged lost, nothing applied
// twice.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/loadgen"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// Shape of one ingest crash run (per store).
const (
	ingestAgents = 200
	ingestKills  = 10
	// Each server life first acknowledges ingestLifeAcks messages (the
	// stream has resumed), then is killed at a point drawn uniformly
	// from [0, ingestKillMax) later.
	ingestLifeAcks = ingestAgents / 2
	ingestKillMax  = 1500 * time.Millisecond
	// Each agent sends an inventory every ingestPaceMin..ingestPaceMax,
	// with at most ingestWindow unacknowledged.
	ingestPaceMin = 300 * time.Millisecond
	ingestPaceMax = 700 * time.Millisecond
	ingestWindow  = 4
	// ingestDrain bounds the wait for every agent's last acks after the
	// last restart.
	ingestDrain = 2 * time.Minute
	// ingestPackages is each host's package count besides the marker.
	ingestPackages = 10
)

func TestCrashIngestStoresEveryAckedMessageOnce(t *testing.T) {
	stores := []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { crashIngest(t, st.db(t)) })
	}
}

// ingestHost is one simulated host: its agent, its baseline sections, and
// what the server acknowledged.
type ingestHost struct {
	name     string
	agent    *loadgen.DurableAgent
	baseline wire.Inventory
	packages []inventory.Package
	hashes   map[string]string
	// markers maps the sequence number of each marker message to its
	// marker; acked lists the acknowledged ones (agent goroutine only).
	markers  map[uint64]string
	acked    []uint64
	firstSeq uint64
	resyncs  int
}

func crashIngest(t *testing.T, db string) {
	began := time.Now()
	dir := t.TempDir()
	conf := filepath.Join(dir, "steward.yaml")
	writeFile(t, conf, "# no alerting: the ingest crash test needs none\n")
	cs := &crashServer{addr: freeAddr(t), dataDir: filepath.Join(dir, "data"), db: db, conf: conf}
	t.Cleanup(func() { cs.finish(t) })
	cs.launch(t)
	s := &server{url: cs.url, dataDir: cs.dataDir, token: readSecret(t, filepath.Join(cs.dataDir, "admin-token"))}
	secret := readSecret(t, filepath.Join(cs.dataDir, "enroll-secret"))

	fleet, err := loadgen.NewFleet(ingestPackages)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	life, endLife := context.WithCancel(context.Background())
	t.Cleanup(endLife) // a failed test must not leave agents dialling
	hosts := make([]*ingestHost, ingestAgents)
	var acks, baselines atomic.Int64
	for i := range hosts {
		h := &ingestHost{name: fmt.Sprintf("crash-ingest-%03d", i), markers: map[uint64]string{}}
		if h.agent, err = loadgen.EnrollDurable(life, client, cs.url, secret, h.name); err != nil {
			t.Fatal(err)
		}
		h.agent.Window = ingestWindow
		h.agent.OnAck = func(seq uint64, resync bool) {
			acks.Add(1)
			if seq == h.firstSeq {
				baselines.Add(1)
			}
			if resync {
				h.resyncs++
			}
			if _, ok := h.markers[seq]; ok {
				h.acked = append(h.acked, seq)
			}
		}
		if h.baseline, err = fleet.Inventory(h.name, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.hashes = map[string]string{}
		for _, sec := range h.baseline.Sections {
			h.hashes[sec.Name] = sec.Hash
			if sec.Name == inventory.SectionSoftware {
				var sw inventory.Software
				if err := json.Unmarshal(sec.Data, &sw); err != nil {
					t.Fatal(err)
				}
				h.packages = sw.Packages
			}
		}
		hosts[i] = h
	}

	// The stream: every agent sends its baseline, then one marker
	// inventory after another until sending ends.
	sending, stopSending := context.WithCancel(life)
	var wg sync.WaitGroup
	errs := make(chan error, ingestAgents)
	for i, h := range hosts {
		wg.Go(func() {
			if err := h.stream(sending, rand.New(rand.NewPCG(uint64(i), 7))); err != nil && sending.Err() == nil {
				errs <- fmt.Errorf("%s: %w", h.name, err)
			}
		})
	}

	// Every host's first inventory is in before the kills start.
	eventually(t, 2*time.Minute, "every agent's first inventory acknowledged", func() (bool, string) {
		return baselines.Load() == ingestAgents, fmt.Sprintf("%d of %d", baselines.Load(), ingestAgents)
	})
	churnStart := time.Now()
	rng := rand.New(rand.NewPCG(uint64(churnStart.UnixNano()), 0))
	perLife := make([]int64, 0, ingestKills)
	for life := range ingestKills {
		before := acks.Load()
		eventually(t, 2*time.Minute, fmt.Sprintf("server life %d acknowledging %d messages", life+1, ingestLifeAcks), func() (bool, string) {
			if cs.cur.exited() {
				t.Fatalf("steward-server exited: %v", cs.cur.err)
			}
			return acks.Load()-before >= ingestLifeAcks, fmt.Sprintf("%d acks", acks.Load()-before)
		})
		// The kill point is a chosen time, not a synchronisation.
		time.Sleep(time.Duration(rng.Int64N(int64(ingestKillMax))))
		cs.kill(t)
		perLife = append(perLife, acks.Load()-before)
		cs.launch(t)
	}
	churn := time.Since(churnStart)
	stopSending()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// The last server stays up: every message still spooled must be
	// acknowledged.
	drainStart := time.Now()
	draining, endDrain := context.WithTimeout(life, ingestDrain)
	defer endDrain()
	var dwg sync.WaitGroup
	drainErrs := make(chan error, ingestAgents)
	for _, h := range hosts {
		dwg.Go(func() {
			if err := h.agent.Drain(draining); err != nil {
				drainErrs <- fmt.Errorf("%s: %d messages never acknowledged: %w", h.name, h.agent.Unacked(), err)
			}
			h.agent.Close()
		})
	}
	dwg.Wait()
	close(drainErrs)
	for err := range drainErrs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	drain := time.Since(drainStart)

	// What the server stored: each host's software_installed history.
	rep := &crashReport{t: t, seen: map[string]int{}}
	defer rep.done()
	var ackedTotal, sent, redials, resent, unexpected int
	for _, h := range hosts {
		stored := ingestMarkers(t, s, h.agent.HostID)
		ackedTotal += len(h.acked)
		sent += len(h.markers)
		redials += h.agent.Redials
		resent += h.agent.Resent
		unexpected += h.agent.Unexpected
		if h.resyncs > 0 {
			rep.errorf("%s: the server asked for %d resyncs: its sections no longer matched what it acknowledged", h.name, h.resyncs)
		}
		for _, seq := range h.acked {
			marker := h.markers[seq]
			got := stored[marker]
			switch {
			case len(got) == 0:
				rep.errorf("%s: message %d (%s) was acknowledged but is not stored", h.name, seq, marker)
			case len(got) > 1:
				rep.errorf("%s: message %d (%s) is stored %d times (seqs %v)", h.name, seq, marker, len(got), got)
			case got[0] != seq:
				rep.errorf("%s: message %d (%s) is stored under seq %d", h.name, seq, marker, got[0])
			}
		}
		// Nothing stored that was not sent, or not acknowledged.
		for marker, seqs := range stored {
			if len(seqs) > 1 {
				continue // reported above if acknowledged
			}
			if h.markers[seqs[0]] != marker {
				rep.errorf("%s: %s is stored under seq %d, which carried %q", h.name, marker, seqs[0], h.markers[seqs[0]])
			}
		}
		if len(h.acked) != len(h.markers) {
			rep.errorf("%s: %d marker messages sent, %d acknowledged after the drain", h.name, len(h.markers), len(h.acked))
		}
	}
	if ackedTotal < ingestAgents*ingestKills {
		t.Errorf("only %d marker messages were acknowledged: too little happened to test anything", ackedTotal)
	}
	t.Logf("%d kills (SIGKILL 0–%v after the life's first %d acks), churn %v, drain %v, total %v",
		ingestKills, ingestKillMax, ingestLifeAcks, churn.Round(time.Millisecond), drain.Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
	t.Logf("%d agents: %d marker messages sent, %d acknowledged and each stored once; acks per server life %v; %d re-dials, %d re-sent messages, %d acks for nothing spooled",
		ingestAgents, sent, ackedTotal, perLife, redials, resent, unexpected)
}

// stream connects, sends the baseline inventory, then marker inventories
// until ctx ends.
func (h *ingestHost) stream(ctx context.Context, rng *rand.Rand) error {
	if err := h.agent.Connect(ctx); err != nil {
		return err
	}
	h.firstSeq = h.agent.NextSeq()
	base := h.baseline
	base.CollectedAt = time.Now().UTC()
	if _, err := h.agent.Send(ctx, wire.TypeInventory, base); err != nil {
		return err
	}
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(ingestPaceMin + time.Duration(rng.Int64N(int64(ingestPaceMax-ingestPaceMin)))):
		}
		seq := h.agent.NextSeq()
		marker := fmt.Sprintf("crash-marker-%d", n)
		inv, err := h.withMarker(marker)
		if err != nil {
			return err
		}
		h.markers[seq] = marker
		if _, err := h.agent.Send(ctx, wire.TypeInventory, inv); err != nil {
			return err
		}
	}
}

// withMarker is an inventory whose software section is the baseline's
// packages and the marker package; the other sections travel in the
// digest only.
func (h *ingestHost) withMarker(marker string) (wire.Inventory, error) {
	pkgs := append(append([]inventory.Package(nil), h.packages...),
		inventory.Package{Name: marker, Version: "1.0-1", Arch: "all", Source: inventory.SourceDpkg})
	data, err := inventory.Canonical(inventory.Software{Packages: pkgs})
	if err != nil {
		return wire.Inventory{}, err
	}
	hashes := make(map[string]string, len(h.hashes))
	for k, v := range h.hashes {
		hashes[k] = v
	}
	sum := inventory.Hash(data)
	hashes[inventory.SectionSoftware] = sum
	return wire.Inventory{CollectedAt: time.Now().UTC(), Digest: inventory.Digest(hashes),
		Sections: []wire.Section{{Name: inventory.SectionSoftware, Hash: sum, Data: data}}}, nil
}

// ingestMarkers returns, per marker package, the sequence numbers of the
// software_installed changes that recorded it on host id.
func ingestMarkers(t *testing.T, s *server, id int64) map[string][]uint64 {
	t.Helper()
	out := map[string][]uint64{}
	for cursor := ""; ; {
		var page struct {
			Changes []struct {
				Kind    string `json:"kind"`
				Subject string `json:"subject"`
				Seq     uint64 `json:"seq"`
			} `json:"changes"`
			NextCursor string `json:"next_cursor"`
		}
		path := fmt.Sprintf("/api/v1/hosts/%d/changes?kind=software_installed&limit=1000", id)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if code := s.get(t, path, &page); code != 200 {
			t.Fatalf("GET %s: HTTP %d", path, code)
		}
		for _, c := range page.Changes {
			if strings.HasPrefix(c.Subject, "crash-marker-") {
				out[c.Subject] = append(out[c.Subject], c.Seq)
			}
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}
