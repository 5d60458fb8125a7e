package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/inventory"
)

func TestCancelReturnsNil(t *testing.T) {
	t.Run("while connected", func(t *testing.T) {
		fs := newFakeServer(t)
		a := newTestAgent(t, fs, newFeed())
		a.start(t)
		fc := fs.accept(t)
		fc.handshake(t, 0)
		if err := a.stop(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if code := fc.closeCode(t); code != websocket.CloseNormalClosure {
			t.Errorf("close code = %d, want %d (normal closure)", code, websocket.CloseNormalClosure)
		}
		if st := savedState(t, a.cfg.StateDir); st.HostID != 1 {
			t.Errorf("saved state %+v, want host id 1 from the welcome", st)
		}
	})
	t.Run("while waiting to reconnect", func(t *testing.T) {
		fs := newFakeServer(t)
		fs.dialStatus = []int{503}
		fs.dialRetryAfter = "3600"
		a := newTestAgent(t, fs, newFeed())
		a.start(t, withRealSleep)
		waitFor(t, "the agent to start waiting", func() bool { return strings.Contains(a.logs.String(), "retry_in=1h") })
		if err := a.stop(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
	t.Run("while collecting", func(t *testing.T) {
		fs := newFakeServer(t)
		a := newTestAgent(t, fs, newFeed()) // the feed never answers
		a.start(t)
		fs.accept(t).handshake(t, 0)
		if err := a.stop(t); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
}

func TestRunRefusesWhatRetryingCannotFix(t *testing.T) {
	collect := func(context.Context) inventory.Document { return inventory.Document{} }
	fileInTheWay := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(fileInTheWay, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{
			name:    "invalid config",
			cfg:     Config{ServerURL: "http://127.0.0.1:1", StateDir: t.TempDir(), AgentVersion: "1"},
			wantErr: "no collect function",
		},
		{
			name:    "no key and no secret",
			cfg:     Config{ServerURL: "http://127.0.0.1:1", StateDir: t.TempDir(), AgentVersion: "1", Collect: collect},
			wantErr: "no enroll secret configured",
		},
		{
			name:    "unusable state dir",
			cfg:     Config{ServerURL: "http://127.0.0.1:1", StateDir: filepath.Join(fileInTheWay, "state"), AgentVersion: "1", Collect: collect, EnrollSecret: "s"},
			wantErr: "state dir",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Run = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	collect := func(context.Context) inventory.Document { return inventory.Document{} }
	good := Config{ServerURL: "https://steward.example.com", StateDir: "/var/lib/steward", AgentVersion: "1.0.0", Collect: collect}
	cases := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"valid with overrides", func(c *Config) { c.InventoryInterval, c.HeartbeatInterval = 1, 1 }, ""},
		{"no server", func(c *Config) { c.ServerURL = "" }, "server url is empty"},
		{"bad scheme", func(c *Config) { c.ServerURL = "ws://x" }, "scheme"},
		{"no host", func(c *Config) { c.ServerURL = "http:///x" }, "no host"},
		{"no state dir", func(c *Config) { c.StateDir = "" }, "state dir"},
		{"no version", func(c *Config) { c.AgentVersion = "" }, "agent version"},
		{"no collect", func(c *Config) { c.Collect = nil }, "collect"},
		{"negative interval", func(c *Config) { c.HeartbeatInterval = -1 }, "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
