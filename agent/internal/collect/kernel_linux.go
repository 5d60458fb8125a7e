package collect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

func (k liveKernel) statfs(path string) (fsUsage, error) {
	if k.offline {
		return fsUsage{}, errLiveOnly
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fsUsage{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return fsUsage{Total: st.Blocks * unit, Free: st.Bavail * unit}, nil
}

// ifaTemporary is IFA_F_TEMPORARY from linux/if_addr.h.
const ifaTemporary = 0x01

// temporaryIPv6 returns the IPv6 privacy addresses listed in
// procDir/net/if_inet6 (address, ifindex, prefix length, scope, flags,
// name; hex). A missing file (IPv6 disabled) means there are none.
func temporaryIPv6(procDir string) map[string]bool {
	data, err := os.ReadFile(filepath.Join(procDir, "net", "if_inet6"))
	if err != nil {
		return nil
	}
	var out map[string]bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || len(f[0]) != 32 {
			continue
		}
		flags, err := strconv.ParseUint(string(f[4]), 16, 32)
		if err != nil || flags&ifaTemporary == 0 {
			continue
		}
		ip := make(net.IP, net.IPv6len)
		if _, err := hex.Decode(ip, f[0]); err != nil {
			continue
		}
		if out == nil {
			out = make(map[string]bool)
		}
		out[ip.String()] = true
	}
	return out
}
