package macinv

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

func TestParseLaunchctlList(t *testing.T) {
	got, err := ParseLaunchctlList(tool(t, "launchctl-list-root.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"com.apple.SafariHistoryServiceAgent": "stopped",
		"com.apple.xpc.launchd.domain.system": "running",
		"com.apple.mDNSResponder":             "running",
		"com.apple.smbd":                      "stopped", // SIGKILL: launchd reclaiming an idle job
		"com.example.crashy":                  "failed",  // exit 78
		"com.example.agentd":                  "running",
		"com.openssh.sshd":                    "stopped",
		"com.docker.vmnetd":                   "stopped", // SIGTERM
		"0x7f8b4c40c3a0.anonymous.launchctl":  "stopped",
		"com.example.watcher":                 "failed", // SIGSEGV
	}
	if len(got) != len(want) {
		t.Errorf("got %d jobs, want %d: %v", len(got), len(want), got)
	}
	for label, st := range want {
		if got[label] != st {
			t.Errorf("%s = %q, want %q", label, got[label], st)
		}
	}
	if _, err := ParseLaunchctlList([]byte("Could not find service \"x\" in domain for port\n")); err == nil {
		t.Error("output without header: no error")
	}
}

func TestServicesGolden(t *testing.T) {
	root := fixtureRoot(t)
	ctx := context.Background()
	sys := System{Root: root}
	homes := sys.Homes(ctx)
	listed := func(file string) map[string]string {
		jobs, err := ParseLaunchctlList(tool(t, file))
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	cases := []struct {
		golden string
		live   *LaunchdList
	}{
		{"services-offline.json", nil},
		{"services-root.json", &LaunchdList{Jobs: listed("launchctl-list-root.txt"), System: true}},
		{"services-alice.json", &LaunchdList{Jobs: listed("launchctl-list-user.txt"), Home: "/Users/alice"}},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			got, err := sys.Services(ctx, homes, c.live)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.golden, got)
		})
	}
}

func TestServiceModesAndStates(t *testing.T) {
	sys := System{Root: fixtureRoot(t)}
	ctx := context.Background()
	jobs, err := ParseLaunchctlList(tool(t, "launchctl-list-root.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := sys.Services(ctx, sys.Homes(ctx), &LaunchdList{Jobs: jobs, System: true})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]inventory.Service{}
	for _, s := range got.Services {
		byName[s.Name] = append(byName[s.Name], s)
	}
	cases := []struct {
		name, mode, state, why string
	}{
		{"com.openssh.sshd", "manual", "stopped", "Disabled in its plist, enabled by override; socket-activated"},
		{"com.apple.screensharing", "disabled", "stopped", "Disabled key, no override"},
		{"com.example.turnedoff", "disabled", "stopped", "RunAtLoad but disabled by override; not listed, so not loaded"},
		{"com.example.agentd", "auto", "running", "RunAtLoad and KeepAlive"},
		{"com.example.crashy", "auto", "failed", "KeepAlive SuccessfulExit implies a first run"},
		{"com.example.watcher", "manual", "failed", "KeepAlive on a path state is conditional"},
		{"com.apple.smbd", "manual", "stopped", "MachServices on demand"},
		{"com.google.keystone.agent", "auto", "unknown", "an agent: root's launchctl list does not cover it"},
		{"com.dropbox.DropboxMacUpdate.agent", "disabled", "unknown", "per-user override disabled.501.plist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := byName[c.name]
			if len(s) != 1 {
				t.Fatalf("%d services named %s", len(s), c.name)
			}
			if s[0].StartMode != c.mode || s[0].State != c.state {
				t.Errorf("mode/state = %s/%s, want %s/%s (%s)", s[0].StartMode, s[0].State, c.mode, c.state, c.why)
			}
		})
	}
	if _, ok := byName["com.example.garbled"]; ok {
		t.Error("malformed plist listed")
	}
	if s := byName["com.openssh.sshd"]; len(s) == 1 && s[0].Path != "/System/Library/LaunchDaemons/ssh.plist" {
		t.Errorf("sshd path = %q, want the plist's path on the inspected system", s[0].Path)
	}
}

func TestServicesAbsent(t *testing.T) {
	_, err := System{Root: t.TempDir()}.Services(context.Background(), nil, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}
