package collect

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

func collectNetwork(_ context.Context, cfg Config) (any, error) {
	ifaces, err := cfg.kernel.interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := inventory.Network{Interfaces: make([]inventory.Interface, 0, len(ifaces))}
	for _, ifc := range ifaces {
		addrs := slices.Clone(ifc.Addresses)
		if addrs == nil {
			addrs = []string{}
		}
		slices.Sort(addrs)
		out.Interfaces = append(out.Interfaces, inventory.Interface{
			Name:      ifc.Name,
			MAC:       ifc.MAC,
			Addresses: addrs,
			Up:        ifc.Up,
			MTU:       ifc.MTU,
		})
	}
	slices.SortFunc(out.Interfaces, func(a, b inventory.Interface) int {
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

func (k liveKernel) interfaces() ([]netInterface, error) {
	if k.offline {
		return nil, errLiveOnly
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	// Temporary (privacy) IPv6 addresses rotate daily; listing them would
	// make the section change with no change to the machine.
	temporary := temporaryIPv6(k.procDir)
	out := make([]netInterface, 0, len(ifaces))
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		cidrs := make([]string, 0, len(addrs))
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || temporary[ipn.IP.String()] {
				continue
			}
			cidrs = append(cidrs, ipn.String())
		}
		out = append(out, netInterface{
			Name:      ifc.Name,
			MAC:       ifc.HardwareAddr.String(),
			Up:        ifc.Flags&net.FlagUp != 0,
			MTU:       ifc.MTU,
			Addresses: cidrs,
		})
	}
	return out, nil
}
