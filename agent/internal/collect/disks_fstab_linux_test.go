package collect

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// offlineDisks collects the disks section of an offline root whose
// /etc/fstab is the fixture file (none when fixture is "").
func offlineDisks(t *testing.T, fixture string) inventory.Disks {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if fixture != "" {
		data, err := os.ReadFile(filepath.Join("testdata", "fstab", fixture))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", "fstab"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc := Collect(context.Background(), Config{Root: root})
	if msg, failed := doc.Errors[inventory.SectionDisks]; failed {
		t.Fatalf("disks failed: %s", msg)
	}
	var d inventory.Disks
	if err := json.Unmarshal(doc.Sections[inventory.SectionDisks], &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOfflineDisksFromFstab(t *testing.T) {
	d := offlineDisks(t, "mixed.fstab")
	got, _ := json.MarshalIndent(d.Mounts, "", "  ")
	want, _ := json.MarshalIndent([]inventory.Mount{
		// The later of two lines for one mount point is mounted on top.
		{Mount: "/dev/shm", Device: "tmpfs", FS: "tmpfs", Options: []string{"nodev", "nosuid", "noexec"}},
		// Tabs separate fields as well as spaces; "defaults" is kept as written.
		{Mount: "/home", Device: "LABEL=home", FS: "ext4", Options: []string{"defaults"}},
		{Mount: "/tmp", Device: "tmpfs", FS: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "noexec", "size=2G"}},
		// /var/log is noauto (not mounted at boot), the commented /tmp line
		// and the too-short /var line count for nothing, swap has no mount
		// point, and / and /boot/efi are not among the checked mount points.
		{Mount: "/var/log/audit", Device: "//files/backup", FS: "cifs", Options: []string{"username=svc", "password=<hidden>", "nodev"}},
		// A bind mount names its source directory and file system "none".
		{Mount: "/var/tmp", Device: "/tmp", FS: "none", Options: []string{"bind", "nodev", "nosuid", "noexec"}},
	}, "", "  ")
	if string(got) != string(want) {
		t.Errorf("mounts:\n%s\nwant:\n%s", got, want)
	}
	if d.Physical == nil || len(d.Physical) != 0 || d.Volumes == nil || len(d.Volumes) != 0 {
		t.Errorf("physical %v, volumes %v: want both empty lists (known only to a running system)", d.Physical, d.Volumes)
	}
}

func TestOfflineDisksWithoutFstab(t *testing.T) {
	if d := offlineDisks(t, ""); len(d.Mounts) != 0 {
		t.Errorf("mounts without an fstab: %+v", d.Mounts)
	}
	// debootstrap's placeholder holds only a comment.
	if d := offlineDisks(t, "unconfigured.fstab"); len(d.Mounts) != 0 {
		t.Errorf("mounts from a comment-only fstab: %+v", d.Mounts)
	}
}

// An absolute link /etc/fstab -> /srv/fstab is followed inside the image.
func TestOfflineDisksFstabLink(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"etc", "srv"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "srv", "fstab"), []byte("tmpfs /tmp tmpfs nodev 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/srv/fstab", filepath.Join(root, "etc", "fstab")); err != nil {
		t.Fatal(err)
	}
	doc := Collect(context.Background(), Config{Root: root})
	var d inventory.Disks
	if err := json.Unmarshal(doc.Sections[inventory.SectionDisks], &d); err != nil {
		t.Fatalf("disks: %v (errors %v)", err, doc.Errors)
	}
	if len(d.Mounts) != 1 || d.Mounts[0].Mount != "/tmp" || d.Mounts[0].Options[0] != "nodev" {
		t.Errorf("mounts through the link: %+v", d.Mounts)
	}
}
