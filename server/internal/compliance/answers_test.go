package compliance_test

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/steward-project/steward/server/internal/compliance"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// mixedFile has a policy agents evaluate with an expr leaf among machine
// leaves, one for another platform, and an expr-only one (the server's
// own, never answered).
const mixedFile = `policies:
  - id: debian-sshd
    title: Debian with sshd config
    severity: high
    platforms: [linux]
    applies_if: {expr: 'inventory.os.platform != "windows"'}
    check:
      all:
        - file: {path: /etc/ssh/sshd_config, exists: true}
        - expr: inventory.os.platform == "debian"
  - id: win-only
    title: Windows
    severity: low
    platforms: [windows]
    check:
      any: [{registry: {key: 'HKLM\SOFTWARE\X'}}, {expr: 'true'}]
  - id: os-debian
    title: Runs Debian
    severity: low
    check:
      expr: inventory.os.platform == "debian"
`

// sentAnswers is one SendExprAnswers call.
type sentAnswers struct {
	host    int64
	answers wire.ExprAnswers
}

// fakeSink stands in for the gateway: hosts in connected are connected,
// and what is sent arrives on sent.
type fakeSink struct {
	mu        sync.Mutex
	connected map[int64]bool
	sent      chan sentAnswers
}

func (s *fakeSink) IsConnected(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected[id]
}

func (s *fakeSink) SendExprAnswers(id int64, a wire.ExprAnswers) bool {
	if !s.IsConnected(id) {
		return false
	}
	s.sent <- sentAnswers{id, a}
	return true
}

func (f *fixture) withSink(t *testing.T) *fakeSink {
	sink := &fakeSink{connected: map[int64]bool{}, sent: make(chan sentAnswers, 16)}
	f.ev = compliance.New(f.st, compliance.Config{Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Answers: sink})
	return sink
}

// next waits for the next answers sent and checks the debian-sshd leaf.
func (s *fakeSink) next(t *testing.T, host int64, revision uint64, debian bool) {
	t.Helper()
	got := <-s.sent
	if got.host != host || got.answers.Revision != revision {
		t.Fatalf("answers for host %d revision %d, want host %d revision %d", got.host, got.answers.Revision, host, revision)
	}
	if _, ok := got.answers.Answers["win-only"]; ok || len(got.answers.Answers) != 1 {
		t.Fatalf("answers %+v: want debian-sshd's alone (win-only is for another platform, os-debian the server's)", got.answers.Answers)
	}
	leaves := got.answers.Answers["debian-sshd"]
	a, ok := leaves["check.all[1].expr"]
	if !ok || a.Error != "" || a.Value != debian || len(leaves) != 2 || !leaves["applies_if.expr"].Value {
		t.Fatalf("debian-sshd answers %+v, want check.all[1].expr %t", leaves, debian)
	}
	if want := policy.ExprDetail(`inventory.os.platform == "debian"`, debian); a.Detail != want {
		t.Errorf("detail %q, want %q", a.Detail, want)
	}
}

func TestAnswersFollowInventoryAndPolicies(t *testing.T) {
	f := newFixture(t, 10)
	sink := f.withSink(t)
	f.applyPolicies(t, mixedFile)
	rev, err := f.st.PolicyRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	deb := f.addHost(t, "deb", "debian")
	offline := f.addHost(t, "offline", "debian")
	sink.connected[deb] = true
	f.run(t)

	// Connecting brings the answers even though nothing changed.
	f.ev.HostConnected(deb)
	sink.next(t, deb, uint64(rev), true)

	// An inventory change that changes an answer sends them again; one
	// that changes none (a package) sends nothing, so the next answers
	// seen are the rocky ones.
	f.ev.Committed([]store.Message{f.sendInventory(t, deb, "debian", "vim")}, nil)
	f.ev.Committed([]store.Message{f.sendInventory(t, offline, "rocky")}, nil)
	f.ev.Committed([]store.Message{f.sendInventory(t, deb, "rocky")}, nil)
	sink.next(t, deb, uint64(rev), false)

	// A new connection gets them afresh.
	f.ev.HostConnected(deb)
	sink.next(t, deb, uint64(rev), false)

	// A policy change brings answers for the new revision.
	f.applyPolicies(t, mixedFile+`  - id: extra
    title: Extra
    severity: low
    check: {all: [{port: {listening: 22}}, {expr: 'true'}]}
`)
	f.ev.PoliciesChanged()
	got := <-sink.sent
	if got.host != deb || got.answers.Revision <= uint64(rev) || !got.answers.Answers["extra"]["check.all[1].expr"].Value {
		t.Fatalf("after the policy change: %+v", got)
	}
	select {
	case extra := <-sink.sent:
		t.Errorf("unexpected answers %+v", extra)
	default:
	}
}

// TestAnswersOnlyForConnectedHosts: a host that is not connected gets
// nothing, and the expr-only policy still gets its results.
func TestAnswersOnlyForConnectedHosts(t *testing.T) {
	f := newFixture(t, 10)
	sink := f.withSink(t)
	f.applyPolicies(t, mixedFile)
	id := f.addHost(t, "deb", "debian")
	f.run(t)
	f.ev.HostConnected(id) // it went away again before its answers were sent
	f.waitStatuses(t, id, "os-debian pass")
	select {
	case got := <-sink.sent:
		t.Errorf("answers sent to a host that is not connected: %+v", got)
	default:
	}
}
