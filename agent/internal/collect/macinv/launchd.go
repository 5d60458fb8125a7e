package macinv

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// launchdOverrides is where launchctl enable/disable records its choices,
// which win over a job's own Disabled key: disabled.plist for the system
// domain (daemons), disabled.<uid>.plist for one user's GUI domain.
const launchdOverrides = "/private/var/db/com.apple.xpc.launchd"

// jobDir is one folder of launchd job plists. Daemons run in the system
// domain; agents in each user's domain. Apple's own jobs are included:
// the remote-access services admins check for (com.openssh.sshd,
// com.apple.screensharing, com.apple.smbd) are among them.
type jobDir struct {
	dir    string
	daemon bool
}

var jobDirs = []jobDir{
	{"/Library/LaunchDaemons", true},
	{"/Library/LaunchAgents", false},
	{"/System/Library/LaunchDaemons", true},
	{"/System/Library/LaunchAgents", false},
}

type launchdJob struct {
	Label     string `plist:"Label"`
	Disabled  any    `plist:"Disabled"`
	RunAtLoad any    `plist:"RunAtLoad"`
	KeepAlive any    `plist:"KeepAlive"`
}

// LaunchdList is what `launchctl list` reported: the jobs loaded in one
// domain, by label.
type LaunchdList struct {
	// Jobs maps a label to its state in the listed domain.
	Jobs map[string]string
	// System is set when the list is the system domain's (launchctl run as
	// root), which holds the daemons; otherwise it is the GUI domain of the
	// user with home Home, which holds the agents.
	System bool
	Home   string
}

// ParseLaunchctlList reads `launchctl list`: a header, then one line per
// loaded job with three tab-separated columns: PID ("-" when not running),
// the last exit status (negative: the signal that ended it) and the label.
// A loaded job that is not running is "stopped" after a clean exit or after
// SIGTERM or SIGKILL, which is how launchd itself ends idle and on-demand
// jobs, and "failed" after any other status.
func ParseLaunchctlList(out []byte) (map[string]string, error) {
	jobs := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	header := false
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			continue
		}
		if f[0] == "PID" {
			header = true
			continue
		}
		pid, status, label := f[0], f[1], f[2]
		switch {
		case pid != "-":
			if _, err := strconv.Atoi(pid); err != nil {
				continue
			}
			jobs[label] = inventory.ServiceRunning
		case status == "0" || status == "-15" || status == "-9":
			jobs[label] = inventory.ServiceStopped
		default:
			jobs[label] = inventory.ServiceFailed
		}
	}
	if !header {
		return nil, fmt.Errorf("launchctl list: %w: no PID/Status/Label header", errUnrecognised)
	}
	return jobs, nil
}

// Services is the services section: every launchd job plist, named by its
// label. live is the running state from launchctl, or nil for an offline
// image, where every state is "unknown"; jobs of the domain launchctl did
// not list are "unknown" too, and a job of the listed domain that launchctl
// does not know is not loaded, so "stopped". homes are users' homes whose
// Library/LaunchAgents are read.
func (s System) Services(ctx context.Context, homes []Home, live *LaunchdList) (inventory.Services, error) {
	systemOff, err := s.overrides("disabled.plist")
	if err != nil {
		s.log().Debug("launchd overrides unreadable", "err", err)
	}
	out := inventory.Services{Services: []inventory.Service{}}
	found := false
	for _, d := range jobDirs {
		off := map[string]bool(nil)
		if d.daemon {
			off = systemOff
		}
		svcs, err := s.jobs(ctx, d, off, "", live)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return inventory.Services{}, err
		}
		found = true
		out.Services = append(out.Services, svcs...)
	}
	for _, h := range homes {
		var off map[string]bool
		if h.UID != "" {
			off, _ = s.overrides("disabled." + h.UID + ".plist")
		}
		d := jobDir{dir: path.Join(h.Path, "Library/LaunchAgents")}
		svcs, err := s.jobs(ctx, d, off, h.Path, live)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.log().Debug("skip user agents", "dir", d.dir, "err", err)
			}
			continue
		}
		out.Services = append(out.Services, svcs...)
	}
	if !found {
		return inventory.Services{}, fmt.Errorf("no launchd job folders under %s: %w", s.root(), fs.ErrNotExist)
	}
	slices.SortFunc(out.Services, func(a, b inventory.Service) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Path, b.Path))
	})
	return out, nil
}

// overrides reads one launchd override file: label → disabled.
func (s System) overrides(name string) (map[string]bool, error) {
	var m map[string]bool
	if err := readPlist(s.path(path.Join(launchdOverrides, name)), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// jobs reads the job plists in d. home is set for a user's own agents.
func (s System) jobs(ctx context.Context, d jobDir, off map[string]bool, home string, live *LaunchdList) ([]inventory.Service, error) {
	entries, err := os.ReadDir(s.path(d.dir))
	if err != nil {
		return nil, fmt.Errorf("launchd jobs: %w", err)
	}
	var out []inventory.Service
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".plist") {
			continue
		}
		p := path.Join(d.dir, e.Name())
		var j launchdJob
		if err := readPlist(s.path(p), &j); err != nil {
			s.log().Debug("skip launchd job", "path", p, "err", err)
			continue
		}
		if j.Label == "" {
			j.Label = strings.TrimSuffix(e.Name(), ".plist")
		}
		out = append(out, inventory.Service{
			Name:      j.Label,
			State:     jobState(j.Label, d.daemon, home, live),
			StartMode: j.startMode(off),
			Path:      p,
		})
	}
	return out, nil
}

// startMode is "disabled" when an override or the job's Disabled key says
// so, "auto" when launchd starts it as soon as it is loaded (RunAtLoad, or
// KeepAlive true or with SuccessfulExit, which implies a first run), and
// "manual" for jobs started on demand: by a socket, a Mach service, a
// schedule, a watched path or another job.
func (j launchdJob) startMode(off map[string]bool) string {
	disabled, overridden := off[j.Label]
	if !overridden {
		disabled = plistBool(j.Disabled)
	}
	if disabled {
		return inventory.StartDisabled
	}
	if plistBool(j.RunAtLoad) || plistBool(j.KeepAlive) {
		return inventory.StartAuto
	}
	if ka, ok := j.KeepAlive.(map[string]any); ok {
		if _, ok := ka["SuccessfulExit"]; ok {
			return inventory.StartAuto
		}
	}
	return inventory.StartManual
}

func jobState(label string, daemon bool, home string, live *LaunchdList) string {
	if live == nil {
		return inventory.ServiceUnknown
	}
	inDomain := daemon == live.System && (daemon || home == "" || home == live.Home)
	if !inDomain {
		return inventory.ServiceUnknown
	}
	if st, ok := live.Jobs[label]; ok {
		return st
	}
	return inventory.ServiceStopped
}
