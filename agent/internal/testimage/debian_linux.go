package testimage

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

const (
	// DebianSuite is the release the Debian image is built from.
	DebianSuite       = "bookworm"
	debootstrapMirror = "http://deb.debian.org/debian"
	// CompleteMarker is the file an image holds once it is fully built.
	CompleteMarker = ".steward-debootstrap-complete"
)

// DebianDir is where the cached Debian image lives (built or not).
func DebianDir() string {
	return filepath.Join("/var/tmp", "steward-debootstrap-"+DebianSuite+"-minbase-"+DebianArch())
}

// DebianRoot returns a minimal Debian root file system, built once with
// debootstrap and kept in /var/tmp (a download of a minute or two),
// reused while its completion marker is there. A lock file serializes
// test processes that want it at the same time. The image is shared:
// callers must not change it (copy it with CopyTree first).
func DebianRoot(t testing.TB) string {
	t.Helper()
	dir := DebianDir()
	unlock := Lock(t, dir+".lock")
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, CompleteMarker)); err == nil {
		return dir
	}
	if os.Geteuid() != 0 {
		t.Fatalf("no Debian image cached in %s, and building one with debootstrap needs root", dir)
	}
	bin, err := exec.LookPath("debootstrap")
	if err != nil {
		t.Fatalf("debootstrap is needed to build a Debian image: %v; install it with: apt-get install -y debootstrap", err)
	}
	partial := dir + ".partial"
	for _, d := range []string{partial, dir} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatalf("clear %s: %v", d, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var log bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--variant=minbase", DebianSuite, partial, debootstrapMirror)
	cmd.Stdout, cmd.Stderr = &log, &log
	t.Logf("building a Debian %s image in %s (cached for later runs)", DebianSuite, dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("debootstrap %s from %s failed (is the mirror reachable?): %v\n%s", DebianSuite, debootstrapMirror, err, Tail(log.Bytes(), 4000))
	}
	if err := os.WriteFile(filepath.Join(partial, CompleteMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(partial, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Lock takes an exclusive lock on the file at path (creating it) and
// returns the function that releases it.
func Lock(t testing.TB, path string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("cache lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("cache lock %s: %v", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// CopyTree copies the directory src to dst (which must not exist) with
// cp -a, keeping owners, modes, links and special files.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, Tail(out, 2000))
	}
}

// DebianArch is Debian's name for the machine's architecture.
func DebianArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}

// Tail is the last n bytes of b, for error messages.
func Tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
