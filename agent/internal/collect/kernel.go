package collect

import "runtime"

// kernel is what collectors ask the running kernel rather than read from
// files, so that fixture tests can substitute it.
type kernel interface {
	// interfaces lists network interfaces with their addresses.
	interfaces() ([]netInterface, error)
	// statfs reports the size of the file system mounted at path.
	statfs(path string) (fsUsage, error)
	// arch is the machine architecture in the kernel's spelling (x86_64).
	arch() string
}

// netInterface is the part of net.Interface the network section needs,
// with addresses already in CIDR form.
type netInterface struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac"`
	Up        bool     `json:"up"`
	MTU       int      `json:"mtu"`
	Addresses []string `json:"addresses"`
}

// fsUsage is a file system's size and the space an unprivileged user can
// still write, in bytes.
type fsUsage struct {
	Total uint64 `json:"total"`
	Free  uint64 `json:"free"`
}

// coarseFree rounds free space down to a hundredth of the file system (at
// least 64 MiB). Exact free bytes move with every log line written, which
// would resend the disks section on every collection of an otherwise
// unchanged machine; a 1 % step keeps the section still until free space
// really moves, and is finer than any "at least N % free" rule needs.
func coarseFree(free, total uint64) uint64 {
	step := max(total/100, 64<<20)
	return free - free%step
}

// liveKernel is the real kernel. offline is set when Config.Root is not
// "/": the files then describe another system, and the running kernel's
// interfaces would be misattributed to it.
type liveKernel struct {
	procDir string
	offline bool
}

func (liveKernel) arch() string { return archName(runtime.GOOS, runtime.GOARCH) }

// archName maps a GOARCH to the name the kernel gives it (`uname -m`, and
// on Windows the name gopsutil derives from PROCESSOR_ARCHITECTURE), which
// is what admins and package managers know. 32-bit ARM and x86 have several
// kernel spellings; the most common one is used.
func archName(goos, goarch string) string {
	if goos == "darwin" && goarch == "arm64" {
		return "arm64" // XNU's own name for Apple silicon
	}
	switch goarch {
	case "amd64":
		return "x86_64"
	case "386":
		return "i686"
	case "arm64":
		return "aarch64"
	case "arm":
		return "armv7l"
	case "loong64":
		return "loongarch64"
	case "mips64le", "mips64":
		return "mips64"
	case "mipsle", "mips":
		return "mips"
	default: // ppc64le, ppc64, riscv64, s390x spell it the same way
		return goarch
	}
}
