package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainRefusedEnrollment(t *testing.T) {
	ts := newTestServer(t)
	secretFile := filepath.Join(t.TempDir(), "enroll-secret")
	if err := os.WriteFile(secretFile, []byte("not-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--server", ts.url, "--agents", "7", "--duration", "1s", "--packages", "20", "--quiet"}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, stdout string)
	}{
		{"json", append([]string{"--enroll-secret", "wrong", "-o", "json"}, base...), func(t *testing.T, out string) {
			var rep Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
			}
			if !rep.Failed || rep.Enroll.Attempted != 7 || rep.Enroll.Enrolled != 0 || rep.Enroll.Failures["http 401"] != 7 {
				t.Errorf("report: failed %v enroll %+v", rep.Failed, rep.Enroll)
			}
			if rep.Connect.Attempted != 0 || rep.Steady.Sent != 0 {
				t.Errorf("agents without node keys went on: connect %+v", rep.Connect)
			}
		}},
		{"text, secret from a file", append([]string{"--enroll-secret-file", secretFile}, base...), func(t *testing.T, out string) {
			for _, want := range []string{"7 attempted, 0 enrolled", "http 401", "result    FAILED", "7 enrollments failed (http 401: 7)"} {
				if !strings.Contains(out, want) {
					t.Errorf("text report lacks %q:\n%s", want, out)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr)
			if code != ExitFailed {
				t.Errorf("exit code %d, want %d; stderr: %s", code, ExitFailed, stderr.String())
			}
			tc.check(t, stdout.String())
		})
	}
	if n := len(ts.store.snapshot()); n != 0 {
		t.Errorf("refused enrollments created %d hosts", n)
	}
}

func TestMainSucceeds(t *testing.T) {
	ts := newTestServer(t)
	var stdout, stderr bytes.Buffer
	profile := filepath.Join(t.TempDir(), "gen.pprof")
	code := Main(context.Background(), []string{"--server", ts.url, "--agents", "3", "--duration", "300ms",
		"--heartbeat", "50ms", "--packages", "30", "--enroll-secret", testSecret, "--cpuprofile", profile}, &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	// --cpuprofile leaves a profile behind: pprof writes gzip.
	if b, err := os.ReadFile(profile); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("--cpuprofile: want a gzip profile, read %d bytes, err %v", len(b), err)
	}
	for _, want := range []string{"3 attempted, 3 enrolled", "3 full inventories acked, 0 failed", "3 agents connected", "result    OK"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "steady phase") {
		t.Errorf("no progress log on stderr:\n%s", stderr.String())
	}
}

func TestMainUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no server", []string{"--agents", "1"}, "--server is required"},
		{"bad scheme", []string{"--server", "ftp://x"}, "scheme must be http or https"},
		{"no agents", []string{"--server", "http://x", "--agents", "0"}, "--agents must be at least 1"},
		{"bad output", []string{"--server", "http://x", "-o", "yaml"}, "-o must be text or json"},
		{"two secrets", []string{"--server", "http://x", "--enroll-secret", "a", "--enroll-secret-file", "f"}, "not both"},
		{"missing secret file", []string{"--server", "http://x", "--enroll-secret-file", "testdata/no-such-file"}, "--enroll-secret-file"},
		{"bad source address", []string{"--server", "http://x", "--source-ips", "127.0.0.1,localhost"}, `"localhost" is not an IP address`},
		{"zero heartbeat", []string{"--server", "http://x", "--heartbeat", "0s"}, "--heartbeat must be above 0"},
		{"bad results", []string{"--server", "http://x", "--results", "error"}, `--results must be fail, pass or none, not "error"`},
		{"bad receiver address", []string{"--server", "http://x", "--alert-receiver", "9099"}, "--alert-receiver \"9099\": want host:port"},
		{"secret without receiver", []string{"--server", "http://x", "--alert-secret", "s"}, "--alert-secret needs --alert-receiver"},
		{"stray argument", []string{"--server", "http://x", "now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"--servr", "http://x"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(context.Background(), tc.args, &stdout, &stderr); code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

func TestMainNeedsSecretToEnroll(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--server", "http://127.0.0.1:1", "--agents", "2", "--quiet"}, &stdout, &stderr)
	if code != ExitFailed || !strings.Contains(stderr.String(), "2 agents need enrolling and no enroll secret was given") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestInterruptStillReports(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig(ts, 4)
	cfg.Duration = 1 << 62 // only the cancel ends it
	done := make(chan *Report)
	go func() {
		rep, err := Run(ctx, cfg)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	// Cancel once the steady phase is running, as Ctrl-C would.
	<-ts.store.firstHeartbeat
	cancel()
	rep := <-done
	if !rep.Interrupted || rep.Steady.Acked == 0 || rep.Steady.Unacked != 0 || rep.Failed {
		t.Fatalf("interrupted %v acked %d unacked %d problems %v", rep.Interrupted, rep.Steady.Acked, rep.Steady.Unacked, rep.Problems)
	}
	// The interrupt must not close connections before the server's
	// metrics were read, or the per-agent memory figure is meaningless.
	if rep.Steady.ConnectedAtEnd != 4 || rep.ServerSide.AgentsConnected != 4 {
		t.Errorf("at the end: %d connected, server saw %v", rep.Steady.ConnectedAtEnd, rep.ServerSide.AgentsConnected)
	}
	ts.waitIdle(t)
}
