package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadRetention(t *testing.T) {
	c, err := Load("serve", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Retention != DefaultRetention() || c.Retention.Changes != 400*day || c.Retention.Alerts != 90*day {
		t.Errorf("defaults: %+v", c.Retention)
	}
	file := filepath.Join(t.TempDir(), "steward.yaml")
	if err := os.WriteFile(file, []byte("retention:\n  changes: 0s\n  audit: 17520h\n  interval: 15m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load("serve", []string{"--config", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultRetention()
	want.Changes, want.Audit, want.Interval = 0, 2*365*day, 15*time.Minute
	if c.Retention != want {
		t.Errorf("from the file (keys left out keep their defaults): %+v, want %+v", c.Retention, want)
	}
	for name, body := range map[string]string{
		"under a day":    "retention:\n  alerts: 12h\n",
		"negative":       "retention:\n  audit: -1h\n",
		"short interval": "retention:\n  interval: 1s\n",
		"unknown kind":   "retention:\n  sessions: 24h\n",
	} {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load("serve", []string{"--config", bad}, env(nil), io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
