package collect

// pseudoFS are file systems that hold no user data or that mirror another
// one. tmpfs is among them on purpose: its mounts (/run, /dev/shm,
// /run/user/<uid> per login session) come and go with sessions and would
// churn the section, and their contents do not survive a reboot. squashfs
// is left out too: on Linux desktops it is snap and AppImage packages, which
// the software section covers.
var pseudoFS = map[string]bool{
	"proc": true, "sysfs": true, "devtmpfs": true, "devpts": true, "tmpfs": true,
	"ramfs": true, "securityfs": true, "cgroup": true, "cgroup2": true, "pstore": true,
	"bpf": true, "debugfs": true, "tracefs": true, "configfs": true, "fusectl": true,
	"mqueue": true, "hugetlbfs": true, "autofs": true, "binfmt_misc": true,
	"efivarfs": true, "rpc_pipefs": true, "nsfs": true, "selinuxfs": true,
	"squashfs": true, "nfsd": true, "rootfs": true, "fuse.gvfsd-fuse": true,
	"fuse.portal": true, "fuse.lxcfs": true, "fuse.snapfuse": true, "devfs": true,
}

func realFS(m mount) bool {
	switch m.fsType {
	case "overlay", "aufs":
		// Container image layers; only a container's own root is a volume.
		return m.mountPoint == "/"
	}
	return !pseudoFS[m.fsType]
}
