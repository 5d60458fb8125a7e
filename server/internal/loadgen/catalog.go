package loadgen

import (
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// release is one OS version in the simulated fleet. Every host of a release
// shares its common packages byte for byte, as hosts built from one image
// do, so the server's software catalog dedupes the way it would on a real
// fleet.
type release struct {
	os       inventory.OS
	source   string // inventory.SourceDpkg or SourceRPM
	archAny  string // the package arch of architecture-independent packages
	arch     string // the package arch of compiled packages
	vendor   string // rpm packager; dpkg leaves it empty, as the agent does
	verStyle func(upstream string, rev int) string
	// installed is when the image was built: common packages' install time.
	installed time.Time
}

// releases is the fleet's OS mix, weighted roughly like a company server
// fleet: more current Debian and Ubuntu, a tail of older and RHEL hosts.
var releases = []release{
	{os: inventory.OS{Name: "Debian GNU/Linux 12 (bookworm)", Platform: "debian", Family: "debian", Version: "12", Kernel: "6.1.0-28-amd64", Arch: "x86_64"},
		source: inventory.SourceDpkg, arch: "amd64", archAny: "all", verStyle: debVersion("+deb12u"), installed: day(2024, 6, 3)},
	{os: inventory.OS{Name: "Debian GNU/Linux 11 (bullseye)", Platform: "debian", Family: "debian", Version: "11", Kernel: "5.10.0-33-amd64", Arch: "x86_64"},
		source: inventory.SourceDpkg, arch: "amd64", archAny: "all", verStyle: debVersion("+deb11u"), installed: day(2022, 9, 12)},
	{os: inventory.OS{Name: "Ubuntu 22.04.5 LTS", Platform: "ubuntu", Family: "debian", Version: "22.04", Kernel: "5.15.0-126-generic", Arch: "x86_64"},
		source: inventory.SourceDpkg, arch: "amd64", archAny: "all", verStyle: debVersion("ubuntu0.22.04."), installed: day(2023, 2, 20)},
	{os: inventory.OS{Name: "Ubuntu 24.04.1 LTS", Platform: "ubuntu", Family: "debian", Version: "24.04", Kernel: "6.8.0-49-generic", Arch: "x86_64"},
		source: inventory.SourceDpkg, arch: "amd64", archAny: "all", verStyle: debVersion("ubuntu0.24.04."), installed: day(2024, 9, 2)},
	{os: inventory.OS{Name: "Red Hat Enterprise Linux 9.4 (Plow)", Platform: "rhel", Family: "fedora", Version: "9.4", Kernel: "5.14.0-427.42.1.el9_4.x86_64", Arch: "x86_64"},
		source: inventory.SourceRPM, arch: "x86_64", archAny: "noarch", vendor: "Red Hat, Inc.", verStyle: rpmVersion("el9_4"), installed: day(2024, 5, 13)},
	{os: inventory.OS{Name: "Red Hat Enterprise Linux 8.10 (Ootpa)", Platform: "rhel", Family: "fedora", Version: "8.10", Kernel: "4.18.0-553.27.1.el8_10.x86_64", Arch: "x86_64"},
		source: inventory.SourceRPM, arch: "x86_64", archAny: "noarch", vendor: "Red Hat, Inc.", verStyle: rpmVersion("el8_10"), installed: day(2023, 11, 6)},
}

// releaseWeights sums to 100: the share of hosts on each release.
var releaseWeights = []int{30, 10, 20, 20, 12, 8}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, time.UTC) }

func debVersion(suffix string) func(string, int) string {
	return func(up string, rev int) string {
		if rev%3 == 0 {
			return fmt.Sprintf("%s-%d", up, rev%7+1)
		}
		return fmt.Sprintf("%s-%d%s%d", up, rev%7+1, suffix, rev%4+1)
	}
}

func rpmVersion(dist string) func(string, int) string {
	return func(up string, rev int) string { return fmt.Sprintf("%s-%d.%s", up, rev%12+1, dist) }
}

// baseNames are packages found on most Linux servers. Library and language
// packages are added to them by packageNames until a host has as many
// packages as asked for.
var baseNames = []string{
	"acl", "adduser", "apparmor", "apt", "attr", "audit", "base-files", "base-passwd", "bash",
	"bash-completion", "bind9-host", "bsdutils", "bzip2", "ca-certificates", "chrony", "cloud-init",
	"coreutils", "cpio", "cron", "curl", "dash", "dbus", "debconf", "debianutils", "diffutils",
	"dmidecode", "dmsetup", "dnsutils", "dosfstools", "e2fsprogs", "ethtool", "file", "findutils",
	"firewalld", "fuse3", "gawk", "gcc", "gdisk", "gettext", "git", "gnupg", "gpgv", "grep", "groff-base",
	"grub-common", "gzip", "hdparm", "hostname", "htop", "ifupdown", "init-system-helpers", "iproute2",
	"iptables", "iputils-ping", "irqbalance", "jq", "kbd", "keyutils", "kmod", "krb5-locales", "less",
	"linux-base", "lsb-release", "lsof", "lvm2", "make", "man-db", "manpages", "mawk", "mdadm",
	"mount", "nano", "ncurses-base", "ncurses-bin", "net-tools", "netbase", "netcat-openbsd",
	"nfs-common", "nftables", "ntpsec", "open-iscsi", "openssh-client", "openssh-server", "openssl",
	"parted", "passwd", "patch", "pciutils", "perl", "perl-base", "pinentry-curses", "procps",
	"psmisc", "python3", "python3-minimal", "readline-common", "rsync", "rsyslog", "screen", "sed",
	"sensible-utils", "shared-mime-info", "smartmontools", "strace", "sudo", "systemd",
	"systemd-sysv", "sysvinit-utils", "tar", "tcpdump", "telnet", "time", "tmux", "tzdata",
	"ucf", "udev", "unattended-upgrades", "unzip", "usbutils", "util-linux", "vim", "vim-common",
	"wget", "whiptail", "xauth", "xdg-user-dirs", "xfsprogs", "xz-utils", "zip", "zlib1g",
	"zstd", "auditd", "docker-ce", "containerd.io", "nginx", "postgresql-client", "redis-tools",
	"node-exporter", "prometheus-node-exporter", "zabbix-agent2", "filebeat", "osquery", "salt-minion",
}

// stems make up the rest of the catalog: real library and module names.
var stems = []string{
	"acl", "apparmor", "argon2", "assuan", "attr", "audit", "blkid", "brotli", "bsd", "bz2", "cap",
	"cap-ng", "com-err", "crypt", "cryptsetup", "curl", "db5.3", "dbus", "debconf", "device-mapper",
	"dns", "edit", "elf", "expat", "ext2fs", "fdisk", "ffi", "fido2", "gcc-s", "gcrypt", "gdbm",
	"glib2.0", "gmp", "gnutls", "gpg-error", "gpm", "gssapi-krb5", "hogweed", "icu", "idn2",
	"jansson", "json-c", "k5crypto", "keyutils", "kmod", "krb5", "ksba", "ldap", "lz4", "lzma",
	"magic", "mnl", "mount", "mpfr", "ncursesw", "netfilter-conntrack", "nettle", "newt", "nfnetlink",
	"nftnl", "nghttp2", "npth", "nsl", "nss", "numa", "p11-kit", "pam", "pcap", "pci", "pcre2",
	"popt", "proc2", "psl", "python3.11", "readline", "rtmp", "sasl2", "seccomp", "selinux",
	"semanage", "sepol", "slang", "smartcols", "sqlite3", "ss", "ssh", "ssl", "stdc++", "systemd",
	"tasn1", "tinfo", "tirpc", "udev", "unistring", "usb", "uuid", "wrap", "xml2", "xtables",
	"xxhash", "yaml", "zstd", "apt-pkg", "bpf", "cbor", "dw", "event", "fuse3", "gpgme", "inih",
	"isc", "jemalloc", "lmdb", "maxminddb", "mpdec", "pipeline", "protobuf", "snappy", "sodium",
	"tcl", "uv", "vpx", "wbclient", "xmlsec1", "yajl", "zip", "certifi", "chardet", "cryptography",
	"dateutil", "idna", "jinja2", "jwt", "markupsafe", "netaddr", "oauthlib", "pkg-resources",
	"requests", "setuptools", "six", "urllib3", "attrs", "babel", "blinker", "configobj", "distro",
	"httplib2", "jsonpatch", "jsonpointer", "jsonschema", "more-itertools", "pyparsing", "pyrsistent",
	"serial", "zipp",
}

// packageNames returns n distinct package names for a dpkg or rpm fleet,
// base packages first, then libraries and language modules named the way
// each packaging world names them.
func packageNames(source string, n int) []string {
	names := make([]string, 0, n)
	seen := make(map[string]bool, n)
	add := func(s string) {
		if len(names) < n && !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	for _, b := range baseNames {
		add(b)
	}
	for round := 0; len(names) < n; round++ {
		for _, s := range stems {
			var name string
			switch {
			case source == inventory.SourceRPM && round%3 == 0:
				name = s + "-libs"
			case source == inventory.SourceRPM && round%3 == 1:
				name = "python3-" + s
			case source == inventory.SourceRPM:
				name = "perl-" + s
			case round%3 == 0:
				name = "lib" + s + fmt.Sprint(round/3+1)
			case round%3 == 1:
				name = "python3-" + s
			default:
				name = "lib" + s + "-perl"
			}
			if round >= 3 {
				name += fmt.Sprintf("-%d", round/3)
			}
			add(name)
		}
	}
	return names
}

// catalogEntry is one package in canonical JSON, ready to splice into a
// software section.
type catalogEntry struct {
	name string
	data []byte
}

// releaseCatalog holds one release's packages: common ones every host has
// at the same version, and optional ones a host may have, each in a few
// versions (hosts patched at different times).
type releaseCatalog struct {
	common   []catalogEntry   // sorted by name
	optional [][]catalogEntry // [package][version], sorted by name
}

// optionalVersions is how many versions of an optional package exist
// across the fleet.
const optionalVersions = 3

func newReleaseCatalog(rel release, common, varying int) (*releaseCatalog, error) {
	// The optional pool is larger than what one host installs, so hosts
	// differ in which optional packages they have, not only in versions.
	pool := 0
	if varying > 0 {
		pool = max(2*varying, varying+50)
	}
	names := packageNames(rel.source, common+pool)
	c := &releaseCatalog{}
	for i, name := range names {
		if i < common {
			e, err := rel.entry(name, 0)
			if err != nil {
				return nil, err
			}
			c.common = append(c.common, e)
			continue
		}
		vs := make([]catalogEntry, optionalVersions)
		for v := range vs {
			e, err := rel.entry(name, v)
			if err != nil {
				return nil, err
			}
			vs[v] = e
		}
		c.optional = append(c.optional, vs)
	}
	sort.Slice(c.common, func(i, j int) bool { return c.common[i].name < c.common[j].name })
	sort.Slice(c.optional, func(i, j int) bool { return c.optional[i][0].name < c.optional[j][0].name })
	return c, nil
}

// entry builds one package of this release; variant 0 is the image's
// version, higher variants are later updates.
func (rel release) entry(name string, variant int) (catalogEntry, error) {
	h := hash64(rel.os.Version + "/" + name)
	upstream := fmt.Sprintf("%d.%d.%d", h%9+1, (h>>8)%20, (h>>16)%30+uint64(variant))
	arch := rel.arch
	if h%5 == 0 {
		arch = rel.archAny
	}
	p := inventory.Package{
		Name:        name,
		Version:     rel.verStyle(upstream, int((h>>24)%1000)+variant),
		Arch:        arch,
		Source:      rel.source,
		Publisher:   rel.vendor,
		InstallTime: rel.installed.Add(time.Duration(variant) * 41 * 24 * time.Hour).Add(time.Duration(h%3600) * time.Second),
	}
	data, err := inventory.Canonical(p)
	if err != nil {
		return catalogEntry{}, fmt.Errorf("catalog entry %s: %w", name, err)
	}
	return catalogEntry{name: name, data: data}, nil
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
