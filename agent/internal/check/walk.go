package check

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/user"
	"path"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/policy"
)

// maxAccountFile bounds /etc/passwd and /etc/login.defs as read for
// home_dirs.
const maxAccountFile = 16 << 20

// HomeDirs lists the interactive accounts of the checked system and their
// home directories (policy.HomeDirsEnv): root and every account with a uid
// of at least UID_MIN, whose login shell does not end in "nologin" or
// "false". UID_MIN comes from the root's /etc/login.defs (the last
// assignment wins, as shadow-utils reads it; 1000 when unset); an empty
// shell field means /bin/sh, as passwd(5) says, so it is interactive.
func (e *liveEnv) HomeDirs(ctx context.Context) ([]policy.HomeDir, error) {
	uidMin := uint64(policy.DefaultHomeUIDMin)
	defs, err := e.ReadFile(ctx, "/etc/login.defs", maxAccountFile)
	if err != nil && !errors.Is(err, policy.ErrNotFound) {
		return nil, fmt.Errorf("/etc/login.defs: %w", err)
	}
	if v, ok := loginDefsValue(defs, "UID_MIN"); ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			uidMin = n
		}
	}
	passwd, err := e.ReadFile(ctx, "/etc/passwd", maxAccountFile)
	if err != nil {
		return nil, fmt.Errorf("/etc/passwd: %w", err)
	}
	return interactiveHomes(passwd, uidMin), nil
}

// loginDefsValue returns the last value of key in login.defs(5) text:
// "KEY value" lines, "#" comments, blank lines ignored.
func loginDefsValue(data []byte, key string) (string, bool) {
	val, found := "", false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == key {
			val, found = strings.Trim(fields[1], `"`), true
		}
	}
	return val, found
}

// interactiveHomes picks the interactive accounts from passwd(5) text.
func interactiveHomes(passwd []byte, uidMin uint64) []policy.HomeDir {
	var out []policy.HomeDir
	sc := bufio.NewScanner(bytes.NewReader(passwd))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 7 || f[0] == "" {
			continue
		}
		uid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || (uid != 0 && uid < uidMin) {
			continue
		}
		gid, err := strconv.ParseUint(f[3], 10, 32)
		if err != nil {
			continue
		}
		shell := strings.TrimSpace(f[6])
		if strings.HasSuffix(shell, "nologin") || strings.HasSuffix(shell, "false") {
			continue
		}
		if f[5] == "" || !strings.HasPrefix(f[5], "/") {
			continue
		}
		out = append(out, policy.HomeDir{Account: f[0], UID: uint32(uid), GID: uint32(gid), Dir: path.Clean(f[5])})
	}
	return out
}

// idNames names uids and gids for one walk, from the checked system's own
// /etc/passwd and /etc/group, asking os/user on the live machine for ids
// those lack (cached, misses included).
type idNames struct {
	live           bool
	users, groups  map[uint32]string
	askedU, askedG map[uint32]bool
}

func (e *liveEnv) newIDNames() *idNames {
	return &idNames{
		live:   e.root == "",
		users:  readIDFile(e.accountFile("/etc/passwd")),
		groups: readIDFile(e.accountFile("/etc/group")),
		askedU: map[uint32]bool{}, askedG: map[uint32]bool{},
	}
}

// accountFile is where the checked system's account file p is on this
// machine: under a root, links in the image are resolved inside it (an
// image's /etc/passwd linked to an absolute path must not name this
// machine's file). "" when it cannot be resolved, which reads as no names.
func (e *liveEnv) accountFile(p string) string {
	hp, err := e.hostPath(p)
	if err != nil {
		return ""
	}
	return hp
}

func (n *idNames) user(uid uint32) string {
	if name, ok := n.users[uid]; ok || !n.live || n.askedU[uid] {
		return name
	}
	n.askedU[uid] = true
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n.users[uid] = u.Username
		return u.Username
	}
	return ""
}

func (n *idNames) group(gid uint32) string {
	if name, ok := n.groups[gid]; ok || !n.live || n.askedG[gid] {
		return name
	}
	n.askedG[gid] = true
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		n.groups[gid] = g.Name
		return g.Name
	}
	return ""
}

// walkPlan holds a spec's excludes in the forms a walker looks them up.
type walkPlan struct {
	exclude     map[string]bool // checked-system paths
	excludeBase map[string]bool // their base names, a cheap first test
	fsTypes     map[string]bool
}

func newWalkPlan(spec policy.WalkSpec) walkPlan {
	p := walkPlan{exclude: map[string]bool{}, excludeBase: map[string]bool{}, fsTypes: map[string]bool{}}
	for _, x := range spec.Exclude {
		x = path.Clean("/" + x)
		p.exclude[x] = true
		p.excludeBase[path.Base(x)] = true
	}
	for _, t := range spec.ExcludeFSTypes {
		p.fsTypes[t] = true
	}
	return p
}

// excluded reports whether dir/name is an excluded path.
func (p walkPlan) excluded(dir, name string) bool {
	if !p.excludeBase[name] {
		return false
	}
	return p.exclude[joinPath(dir, name)]
}

// rootExcluded reports whether root r (clean, absolute) is an excluded
// path or lies under one.
func (p walkPlan) rootExcluded(r string) bool {
	for x := r; ; x = path.Dir(x) {
		if p.exclude[x] {
			return true
		}
		if x == "/" {
			return false
		}
	}
}

// descends reports whether entries at depth+1 are examined, that is
// whether a directory at depth is listed.
func descends(spec policy.WalkSpec, depth int) bool {
	return spec.MaxDepth == nil || depth < *spec.MaxDepth
}

// joinPath joins a checked-system directory and a name.
func joinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}
