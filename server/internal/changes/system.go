package changes

import (
	"net"
	"strconv"

	"github.com/steward-project/steward/shared/inventory"
)

// osChanges compares the OS's identity; an upgrade shows as version,
// build or kernel changes. Hotfixes are compared by id.
func osChanges(old, new inventory.OS) []Change {
	out := fieldChanges(OSChanged, []field{
		{"name", old.Name, new.Name},
		{"platform", old.Platform, new.Platform},
		{"family", old.Family, new.Family},
		{"version", old.Version, new.Version},
		{"build", old.Build, new.Build},
		{"kernel", old.Kernel, new.Kernel},
		{"arch", old.Arch, new.Arch},
		{"edition", old.Edition, new.Edition},
		{"sip_enabled", boolPtr(old.SIPEnabled), boolPtr(new.SIPEnabled)},
	})
	id := func(h inventory.Hotfix) string { return h.ID }
	before, after := byKey(old.Hotfixes, id), byKey(new.Hotfixes, id)
	for _, k := range unionKeys(before, after) {
		_, hadOld := before[k]
		_, hasNew := after[k]
		switch {
		case !hadOld:
			out = append(out, Change{Kind: HotfixInstalled, Subject: k})
		case !hasNew:
			out = append(out, Change{Kind: HotfixRemoved, Subject: k})
		}
	}
	return out
}

type userDetails struct {
	UID    string `json:"uid,omitempty"`
	Admin  bool   `json:"admin"`
	System bool   `json:"system,omitempty"`
}

// users and services are what their diffs read of the users and services
// sections. Decoding only these fields, and skipping the rest, halves the
// cost of the largest sections that change often (service states flap).
type (
	users struct {
		Users []user `json:"users"`
	}
	user struct {
		Name   string `json:"name"`
		UID    string `json:"uid"`
		Admin  bool   `json:"admin"`
		System bool   `json:"system"`
	}
	services struct {
		Services []service `json:"services"`
	}
	service struct {
		Name      string `json:"name"`
		StartMode string `json:"start_mode"`
	}
)

// userChanges compares local accounts by name. A new administrator
// account is both user_added and admin_added, so a search for admins
// gained finds it. Last login is left out: it changes at every login.
func userChanges(old, new users) []Change {
	name := func(u user) string { return u.Name }
	before, after := byKey(old.Users, name), byKey(new.Users, name)
	var out []Change
	for _, k := range unionKeys(before, after) {
		o, hadOld := before[k]
		n, hasNew := after[k]
		if !hadOld {
			out = append(out, Change{Kind: UserAdded, Subject: k, New: n.UID,
				Details: details(userDetails{UID: n.UID, Admin: n.Admin, System: n.System})})
		}
		if (!hadOld || !o.Admin) && hasNew && n.Admin {
			out = append(out, Change{Kind: AdminAdded, Subject: k})
		}
		if hadOld && o.Admin && (!hasNew || !n.Admin) {
			out = append(out, Change{Kind: AdminRemoved, Subject: k})
		}
		if !hasNew {
			out = append(out, Change{Kind: UserRemoved, Subject: k, Old: o.UID,
				Details: details(userDetails{UID: o.UID, Admin: o.Admin, System: o.System})})
		}
	}
	return out
}

// serviceChanges compares services by name: added, removed, or switched
// between automatic, manual and disabled start. Running state is left
// out: services stop and start on their own, and a history of that is a
// monitoring graph, not an inventory change.
func serviceChanges(old, new services) []Change {
	name := func(s service) string { return s.Name }
	before, after := byKey(old.Services, name), byKey(new.Services, name)
	var out []Change
	for _, k := range unionKeys(before, after) {
		o, hadOld := before[k]
		n, hasNew := after[k]
		switch {
		case !hadOld:
			out = append(out, Change{Kind: ServiceAdded, Subject: k, New: n.StartMode})
		case !hasNew:
			out = append(out, Change{Kind: ServiceRemoved, Subject: k, Old: o.StartMode})
		case o.StartMode != n.StartMode:
			out = append(out, Change{Kind: ServiceStartModeChanged, Subject: k, Old: o.StartMode, New: n.StartMode})
		}
	}
	return out
}

type portDetails struct {
	Proto   string `json:"proto"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	Process string `json:"process,omitempty"`
	User    string `json:"user,omitempty"`
}

// portChanges compares listening sockets by protocol, address, port and
// process: the same port taken over by another program closes one socket
// and opens another. Subject is "tcp/22", so one port's history is one
// subject whatever address it listens on.
func portChanges(old, new inventory.Ports) []Change {
	key := func(p inventory.Port) string {
		return p.Proto + "\x00" + p.Address + "\x00" + strconv.Itoa(p.Port) + "\x00" + p.Process
	}
	before, after := byKey(old.Ports, key), byKey(new.Ports, key)
	var out []Change
	for _, k := range unionKeys(before, after) {
		o, hadOld := before[k]
		n, hasNew := after[k]
		switch {
		case !hadOld:
			out = append(out, Change{Kind: PortOpened, Subject: portSubject(n), New: describePort(n), Details: portDetail(n)})
		case !hasNew:
			out = append(out, Change{Kind: PortClosed, Subject: portSubject(o), Old: describePort(o), Details: portDetail(o)})
		}
	}
	return out
}

func portSubject(p inventory.Port) string { return p.Proto + "/" + strconv.Itoa(p.Port) }

// describePort reads "0.0.0.0:22 sshd" or "[::]:22 sshd".
func describePort(p inventory.Port) string {
	s := net.JoinHostPort(p.Address, strconv.Itoa(p.Port))
	if p.Process != "" {
		s += " " + p.Process
	}
	return s
}

func portDetail(p inventory.Port) []byte {
	return details(portDetails{Proto: p.Proto, Address: p.Address, Port: p.Port, Process: p.Process, User: p.User})
}
