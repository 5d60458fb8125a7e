package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// Benchmark measures ApplyBatch on the shapes ingest sends: batches of
// heartbeats, first inventories of 500 packages (an enroll storm), and
// re-sent software sections with one package upgraded. open is as for Run;
// the store is migrated here. Each reports messages per second.
func Benchmark(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("heartbeats", func(b *testing.B) {
		st, hosts := benchStore(b, open, 256)
		seq := uint64(0)
		b.ResetTimer()
		for b.Loop() {
			seq++
			msgs := make([]store.Message, len(hosts))
			for i, id := range hosts {
				msgs[i] = heartbeat(id, seq, time.Now())
			}
			benchApply(b, st, msgs)
		}
		b.ReportMetric(float64(b.N*len(hosts))/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("first inventory 500 packages", func(b *testing.B) {
		const perBatch = 16
		st, _ := benchStore(b, open, 0)
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			msgs := make([]store.Message, perBatch)
			for i := range msgs {
				id := enrollB(b, st)
				sw := benchSoftware(b, int(id), 0)
				msgs[i] = invMsg(id, 1, time.Now(), wire.Inventory{CollectedAt: t0, Digest: digest(sw), Sections: []wire.Section{sw}})
			}
			b.StartTimer()
			benchApply(b, st, msgs)
		}
		b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("software upgrade 500 packages", func(b *testing.B) {
		st, hosts := benchStore(b, open, 16)
		seq := uint64(0)
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			seq++
			msgs := make([]store.Message, len(hosts))
			for i, id := range hosts {
				sw := benchSoftware(b, int(id), int(seq))
				msgs[i] = invMsg(id, seq, time.Now(), wire.Inventory{CollectedAt: t0, Digest: digest(sw), Sections: []wire.Section{sw}})
			}
			b.StartTimer()
			benchApply(b, st, msgs)
		}
		b.ReportMetric(float64(b.N*len(hosts))/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("full inventory, five sections changed", func(b *testing.B) {
		st, hosts := benchStore(b, open, 16)
		seq := uint64(1)
		msgs := make([]store.Message, len(hosts))
		for i, id := range hosts {
			secs := benchFullInventory(b, int(id), 0)
			msgs[i] = invMsg(id, seq, time.Now(), wire.Inventory{CollectedAt: t0, Digest: digest(secs...), Sections: secs})
		}
		benchApply(b, st, msgs)
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			seq++
			for i, id := range hosts {
				secs := benchFullInventory(b, int(id), int(seq))
				// Only what changed travels, as the agent sends it.
				msgs[i] = invMsg(id, seq, time.Now(), wire.Inventory{CollectedAt: t0, Digest: digest(secs...),
					Sections: []wire.Section{secs[1], secs[2], secs[3], secs[4], secs[5]}})
			}
			b.StartTimer()
			benchApply(b, st, msgs)
		}
		b.ReportMetric(float64(b.N*len(hosts))/b.Elapsed().Seconds(), "msgs/s")
	})
}

// benchFullInventory is a host's inventory at collection round: host and
// cpu fixed; disks (free space), software (one upgrade), services (one
// start mode), users (one account) and ports (one socket) changing with
// round. Sections 1 to 5 are the changing ones.
func benchFullInventory(b *testing.B, host, round int) []wire.Section {
	b.Helper()
	sec := func(name string, v any) wire.Section {
		raw, err := inventory.Canonical(v)
		if err != nil {
			b.Fatal(err)
		}
		return rawSection(name, string(raw))
	}
	var svcs []inventory.Service
	for i := range 150 {
		mode := inventory.StartAuto
		if i == round%150 {
			mode = inventory.StartDisabled
		}
		svcs = append(svcs, inventory.Service{Name: fmt.Sprintf("unit-%03d.service", i), State: inventory.ServiceRunning, StartMode: mode})
	}
	var users []inventory.User
	for i := range 30 {
		users = append(users, inventory.User{Name: fmt.Sprintf("user%02d", i), UID: fmt.Sprint(1000 + i)})
	}
	users = append(users, inventory.User{Name: fmt.Sprintf("temp%d", round), UID: "5000"})
	var ports []inventory.Port
	for i := range 20 {
		ports = append(ports, inventory.Port{Proto: "tcp", Address: "0.0.0.0", Port: 8000 + i, Process: "svc"})
	}
	ports = append(ports, inventory.Port{Proto: "tcp", Address: "127.0.0.1", Port: 20000 + round, Process: "dev"})
	return []wire.Section{
		sec(inventory.SectionHost, inventory.Host{Hostname: fmt.Sprintf("bench-%d", host), HardwareUUID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", host)}),
		sec(inventory.SectionDisks, inventory.Disks{Physical: []inventory.PhysicalDisk{{Device: "/dev/sda", SizeBytes: 1 << 40}},
			Volumes: []inventory.Volume{{Device: "/dev/sda1", Mount: "/", FS: "ext4", SizeBytes: 1 << 40, FreeBytes: uint64(1<<30 + round)}}}),
		benchSoftware(b, host, round),
		sec(inventory.SectionServices, inventory.Services{Services: svcs}),
		sec(inventory.SectionUsers, inventory.Users{Users: users}),
		sec(inventory.SectionPorts, inventory.Ports{Ports: ports}),
		sec(inventory.SectionCPU, inventory.CPU{Model: "Xeon", Sockets: 1, Cores: 4, Threads: 8}),
	}
}

func benchStore(b *testing.B, open func(b *testing.B) store.Store, hosts int) (store.Store, []int64) {
	b.Helper()
	st := open(b)
	if err := st.Migrate(b.Context()); err != nil {
		b.Fatalf("migrate: %v", err)
	}
	ids := make([]int64, hosts)
	for i := range ids {
		ids[i] = enrollB(b, st)
	}
	return st, ids
}

func enrollB(b *testing.B, st store.Store) int64 {
	b.Helper()
	id, err := st.EnrollHost(b.Context(), store.NewHost{NodeKeyHash: fmt.Sprintf("%064x", keySeq.Add(1)), Hostname: "bench", EnrolledAt: t0})
	if err != nil {
		b.Fatalf("enroll: %v", err)
	}
	return id
}

// benchSoftware is a 500-package list shared by every host, with package
// (host+version) % 500 at version `version`: each call with a new version
// upgrades one package.
func benchSoftware(b *testing.B, host, version int) wire.Section {
	b.Helper()
	pkgs := make([]inventory.Package, 500)
	for i := range pkgs {
		v := "1.0"
		if i == (host+version)%500 && version > 0 {
			v = fmt.Sprintf("1.%d", version)
		}
		pkgs[i] = inventory.Package{Name: fmt.Sprintf("package-%03d", i), Version: v, Arch: "amd64", Source: "dpkg"}
	}
	raw, err := inventory.Canonical(inventory.Software{Packages: pkgs})
	if err != nil {
		b.Fatal(err)
	}
	return rawSection(inventory.SectionSoftware, string(raw))
}

func benchApply(b *testing.B, st store.Store, msgs []store.Message) {
	b.Helper()
	res, err := st.ApplyBatch(b.Context(), msgs)
	if err != nil {
		b.Fatalf("apply batch: %v", err)
	}
	for i, r := range res {
		if r.Duplicate {
			b.Fatalf("message %d: duplicate", i)
		}
	}
}
