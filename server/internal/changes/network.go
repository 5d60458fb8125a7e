package changes

import (
	"slices"

	"github.com/steward-project/steward/shared/inventory"
)

type interfaceDetails struct {
	MAC       string   `json:"mac,omitempty"`
	Addresses []string `json:"addresses"`
}

// networkChanges compares interfaces by name. A new or vanished interface
// is one change carrying its addresses in Details; address changes are
// recorded only for interfaces present in both versions. Link state and
// MTU are left out: they flap.
func networkChanges(old, new inventory.Network) []Change {
	name := func(i inventory.Interface) string { return i.Name }
	before, after := byKey(old.Interfaces, name), byKey(new.Interfaces, name)
	var out []Change
	for _, k := range unionKeys(before, after) {
		o, hadOld := before[k]
		n, hasNew := after[k]
		switch {
		case !hadOld:
			out = append(out, Change{Kind: InterfaceAdded, Subject: k, New: n.MAC, Details: ifaceDetail(n)})
		case !hasNew:
			out = append(out, Change{Kind: InterfaceRemoved, Subject: k, Old: o.MAC, Details: ifaceDetail(o)})
		default:
			if o.MAC != n.MAC {
				out = append(out, Change{Kind: MACChanged, Subject: k, Old: o.MAC, New: n.MAC})
			}
			out = append(out, addressChanges(k, o.Addresses, n.Addresses)...)
		}
	}
	return out
}

func addressChanges(iface string, old, new []string) []Change {
	var out []Change
	for _, a := range sortedSet(old) {
		if !slices.Contains(new, a) {
			out = append(out, Change{Kind: AddressRemoved, Subject: iface, Old: a})
		}
	}
	for _, a := range sortedSet(new) {
		if !slices.Contains(old, a) {
			out = append(out, Change{Kind: AddressAdded, Subject: iface, New: a})
		}
	}
	return out
}

func sortedSet(s []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(s)))
}

func ifaceDetail(i inventory.Interface) []byte {
	addrs := sortedSet(i.Addresses)
	if addrs == nil {
		addrs = []string{}
	}
	return details(interfaceDetails{MAC: i.MAC, Addresses: addrs})
}
