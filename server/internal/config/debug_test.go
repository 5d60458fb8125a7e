package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadDebugAndAckDelay(t *testing.T) {
	file := filepath.Join(t.TempDir(), "steward.yaml")
	if err := os.WriteFile(file, []byte("debug:\n  pprof: true\nagent:\n  ack_delay: 3ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantPprof bool
		wantDelay time.Duration
	}{
		{"off by default", nil, nil, false, 0},
		{"file", []string{"--config", file}, nil, true, 3 * time.Millisecond},
		{"flag", []string{"--pprof"}, nil, true, 0},
		{"env", nil, map[string]string{"STEWARD_PPROF": "true"}, true, 0},
		{"flag beats env", []string{"--pprof=false"}, map[string]string{"STEWARD_PPROF": "1"}, false, 0},
		{"env beats file", []string{"--config", file}, map[string]string{"STEWARD_PPROF": "false"}, false, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("serve", tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Debug.Pprof != tt.wantPprof || cfg.Agent.AckDelay != tt.wantDelay {
				t.Errorf("pprof %v, ack_delay %v; want %v, %v", cfg.Debug.Pprof, cfg.Agent.AckDelay, tt.wantPprof, tt.wantDelay)
			}
		})
	}
	if _, err := Load("serve", nil, func(k string) string {
		if k == "STEWARD_PPROF" {
			return "maybe"
		}
		return ""
	}, io.Discard); err == nil {
		t.Error("STEWARD_PPROF=maybe accepted")
	}
}
