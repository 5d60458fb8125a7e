package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/service"
)

// TestServiceSysV installs steward-server as a real SysV service running
// as a system account that install creates, starts it, checks it serves
// as that account, stops it and removes it. The service and the account
// have names of their own (-X main.serviceName, -X main.serviceUser);
// the account, the init script and the logs are removed at the end.
func TestServiceSysV(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test installs an init script and creates a system user: run the tests as root (as make test does in CI)")
	}
	for tool, pkg := range map[string]string{"service": "init-system-helpers", "useradd": "passwd", "userdel": "passwd", "setpriv": "util-linux"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: install it with `apt-get install -y %s`", tool, pkg)
		}
	}
	m, err := service.Open("steward-server", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Platform() != service.SysV {
		t.Skipf("the real service test drives SysV, and this machine's service manager is %s", m.Platform())
	}

	name := fmt.Sprintf("steward-server-test-%d", os.Getpid())
	account := fmt.Sprintf("stwd-test-%d", os.Getpid())
	if _, err := user.Lookup(account); err == nil {
		t.Fatalf("user %s exists already", account)
	}
	dir := t.TempDir()
	// The account must reach the binary, its config and its data.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	bin := filepath.Join(dir, "steward-server")
	build := exec.Command("go", "build", "-ldflags", "-X main.serviceName="+name+" -X main.serviceUser="+account, "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		runBin(t, bin, "uninstall")
		exec.Command("userdel", account).Run()
		leftovers, _ := filepath.Glob("/var/log/" + name + ".*")
		links, _ := filepath.Glob("/etc/rc?.d/[SK]??" + name)
		for _, f := range append(append(leftovers, links...), "/var/run/"+name+".pid", "/etc/init.d/"+name) {
			os.Remove(f)
		}
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfgFile := filepath.Join(dir, "etc", "server.yaml")
	data := filepath.Join(dir, "data")
	expect := func(want int, args ...string) string {
		t.Helper()
		out, code := runBin(t, bin, args...)
		if code != want {
			log, _ := os.ReadFile("/var/log/" + name + ".log")
			errLog, _ := os.ReadFile("/var/log/" + name + ".err")
			t.Fatalf("steward-server %s: exit %d, want %d\n%s\nservice log:\n%s\nservice errors:\n%s",
				strings.Join(args, " "), code, want, out, log, errLog)
		}
		return out
	}

	out := expect(0, "install", "--config", cfgFile, "--data-dir", data, "--listen", addr)
	if !strings.Contains(out, "created system user and group "+account) || !strings.Contains(out, "installed service "+name) {
		t.Errorf("install said:\n%s", out)
	}
	u, err := user.Lookup(account)
	if err != nil {
		t.Fatalf("install did not create %s: %v", account, err)
	}
	if out := expect(0, "install", "--config", cfgFile, "--data-dir", data, "--listen", addr); strings.Contains(out, "created") {
		t.Errorf("second install created something:\n%s", out)
	}
	expect(3, "status")
	expect(0, "start")
	expect(0, "status")

	// Ready, and run by the account.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		<-tick.C
	}
	pid, _ := os.ReadFile("/var/run/" + name + ".pid")
	status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/status")
	if err != nil || !bytes.Contains(status, []byte("\nUid:\t"+u.Uid+"\t")) {
		t.Errorf("the server does not run as %s (uid %s): %v\n%s", account, u.Uid, err, status)
	}
	if fi, err := os.Stat(filepath.Join(data, "admin-token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin token: %v %v", fi, err)
	}

	expect(0, "stop")
	expect(3, "status")
	if _, err := http.Get("http://" + addr + "/readyz"); err == nil {
		t.Error("the server still answers after stop")
	}
	expect(0, "uninstall")
	expect(4, "status")
	expect(0, "uninstall")
	if _, err := os.Stat("/etc/init.d/" + name); err == nil {
		t.Error("init script left")
	}
}

// runBin runs the binary and returns its output and exit code.
func runBin(t *testing.T, bin string, args ...string) (string, int) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", 0
}
