package collect

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// retryStable runs check until it reports nothing, at most four times:
// interfaces and mounts can change between the collection and the tool's
// run on a machine that runs other tests, and only a difference that
// persists is a bug.
func retryStable(t *testing.T, check func() []string) {
	t.Helper()
	var problems []string
	for attempt := range 4 {
		if problems = check(); len(problems) == 0 {
			return
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// ipLink is the part of `ip -j addr` the network section reports.
type ipLink struct {
	Name     string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	LinkType string   `json:"link_type"`
	Address  string   `json:"address"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		Prefixlen int    `json:"prefixlen"`
		Temporary bool   `json:"temporary"`
	} `json:"addr_info"`
}

// TestLiveNetworkMatchesIP compares every interface and address with
// `ip -j addr`. IPv6 privacy addresses (ip shows them as "temporary") are
// left out by the collector on purpose: they rotate daily and would change
// the section with no change to the machine. MACs are compared for
// Ethernet links; loopback has none.
func TestLiveNetworkMatchesIP(t *testing.T) {
	t.Parallel()
	retryStable(t, func() []string {
		network := liveCollect[inventory.Network](t, collectNetwork)
		var links []ipLink
		if err := json.Unmarshal([]byte(systemTool(t, "iproute2", "ip", "-j", "addr")), &links); err != nil {
			t.Fatalf("parse ip -j addr: %v", err)
		}
		got := make(map[string]inventory.Interface)
		for _, ifc := range network.Interfaces {
			got[ifc.Name] = ifc
		}
		var problems []string
		for _, l := range links {
			ifc, ok := got[l.Name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: ip lists it, not collected", l.Name))
				continue
			}
			delete(got, l.Name)
			var want []string
			for _, a := range l.AddrInfo {
				addr, err := netip.ParseAddr(a.Local)
				if err != nil {
					t.Fatalf("%s: address %q from ip: %v", l.Name, a.Local, err)
				}
				if !a.Temporary {
					want = append(want, netip.PrefixFrom(addr, a.Prefixlen).String())
				}
			}
			var have []string
			for _, a := range ifc.Addresses {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s: address %q is not CIDR", l.Name, a))
					continue
				}
				have = append(have, p.String())
			}
			slices.Sort(want)
			slices.Sort(have)
			if !slices.Equal(want, have) {
				problems = append(problems, fmt.Sprintf("%s: addresses %v, ip says %v", l.Name, have, want))
			}
			if up := slices.Contains(l.Flags, "UP"); ifc.Up != up || ifc.MTU != l.MTU {
				problems = append(problems, fmt.Sprintf("%s: up %v mtu %d, ip says up %v mtu %d", l.Name, ifc.Up, ifc.MTU, up, l.MTU))
			}
			switch l.LinkType {
			case "ether":
				if ifc.MAC != strings.ToLower(l.Address) {
					problems = append(problems, fmt.Sprintf("%s: mac %q, ip says %q", l.Name, ifc.MAC, l.Address))
				}
			case "loopback":
				if ifc.MAC != "" {
					problems = append(problems, fmt.Sprintf("%s: loopback with mac %q", l.Name, ifc.MAC))
				}
			}
		}
		for name := range got {
			problems = append(problems, fmt.Sprintf("%s collected, ip does not list it", name))
		}
		if len(problems) == 0 {
			t.Logf("%d interfaces agree with ip", len(links))
		}
		return problems
	})
}

// findmntFS is one line of `findmnt -J -l -b`.
type findmntFS struct {
	Target string `json:"target"`
	Source string `json:"source"`
	FSType string `json:"fstype"`
	Size   uint64 `json:"size"`
	DevID  string `json:"maj:min"`
	FSRoot string `json:"fsroot"`
}

// TestLiveVolumesMatchFindmnt checks the volumes against findmnt: every
// kept volume has findmnt's source, type and size, and every mount left
// out is left out for one of the documented reasons (fstypes.go,
// disks_linux.go): a pseudo file system, a container layer other than /,
// a bind mount of a subtree, a second mount of a file system already
// listed, or one statfs cannot read.
func TestLiveVolumesMatchFindmnt(t *testing.T) {
	t.Parallel()
	retryStable(t, func() []string {
		disks := liveCollect[inventory.Disks](t, collectDisks)
		var out struct {
			Filesystems []findmntFS `json:"filesystems"`
		}
		text := systemTool(t, "util-linux", "findmnt", "-J", "-l", "-b", "-o", "TARGET,SOURCE,FSTYPE,SIZE,MAJ:MIN,FSROOT")
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			t.Fatalf("parse findmnt: %v", err)
		}
		kept := make(map[string]inventory.Volume)
		for _, v := range disks.Volumes {
			kept[v.Mount] = v
		}
		var problems []string
		keptFS := make(map[[2]string]bool)
		for _, fs := range out.Filesystems {
			v, ok := kept[fs.Target]
			if !ok || keptFS[[2]string{fs.DevID, fs.FSRoot}] {
				continue
			}
			keptFS[[2]string{fs.DevID, fs.FSRoot}] = true
			delete(kept, fs.Target)
			// findmnt shows a mounted subtree as source[/subtree].
			source, _, _ := strings.Cut(fs.Source, "[")
			if v.Device != source || v.FS != fs.FSType || v.SizeBytes != fs.Size {
				problems = append(problems, fmt.Sprintf("%s: collected %s %s %d bytes, findmnt says %s %s %d",
					fs.Target, v.Device, v.FS, v.SizeBytes, source, fs.FSType, fs.Size))
			}
		}
		for mount := range kept {
			problems = append(problems, fmt.Sprintf("%s collected, findmnt does not list it", mount))
		}
		for _, fs := range out.Filesystems {
			if keptFS[[2]string{fs.DevID, fs.FSRoot}] {
				continue // listed, or a second mount of a listed one
			}
			if reason := skipReason(fs); reason == "" {
				problems = append(problems, fmt.Sprintf("%s (%s on %s) left out for no documented reason", fs.Target, fs.FSType, fs.Source))
			}
		}
		if len(problems) == 0 {
			t.Logf("%d volumes agree with findmnt; %d other mounts left out for a documented reason",
				len(disks.Volumes), len(out.Filesystems)-len(disks.Volumes))
		}
		return problems
	})
}

func skipReason(fs findmntFS) string {
	var st syscall.Statfs_t
	switch {
	case pseudoFS[fs.FSType]:
		return "pseudo file system"
	case (fs.FSType == "overlay" || fs.FSType == "aufs") && fs.Target != "/":
		return "container image layer"
	case fs.FSRoot != "/" && fs.FSType != "btrfs":
		return "bind mount of a subtree"
	case syscall.Statfs(fs.Target, &st) != nil:
		return "statfs fails"
	}
	return ""
}
