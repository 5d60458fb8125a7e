package collect

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// Without systemd as PID 1, services are the init scripts in /etc/init.d
// (SysV, LSB and OpenRC scripts alike):
//
//   - StartMode is "auto" when a start link names the script in a boot
//     runlevel (/etc/rcS.d and /etc/rc[2-5].d, or /etc/rc.d/rc[2-5].d on
//     Red Hat layouts) or when OpenRC lists it in the sysinit, boot or
//     default runlevel; otherwise "manual", since `service NAME start`
//     still works. SysV has no equivalent of masking, so never "disabled".
//   - State is read, on a live system only, from what the script says it
//     runs: its pid file (PIDFILE=, OpenRC pidfile=) when that exists,
//     else a process whose name is that of DAEMON= (OpenRC command=).
//     Scripts that say neither (hwclock.sh) are "unknown".
//   - DisplayName is the LSB Short-Description (OpenRC description=).

// sysvNotServices are files in /etc/init.d that are no service: the
// runlevel dispatchers, shell libraries, templates and the actions that
// halt the machine. Debian's `service --status-all` skips the same.
var sysvNotServices = map[string]bool{
	"README": true, "skeleton": true, "functions": true, "rc": true, "rcS": true,
	"halt": true, "reboot": true, "single": true, "killall": true,
}

// sysvLeftover reports package manager backups and editor copies, which
// init never runs.
func sysvLeftover(name string) bool {
	for _, s := range []string{".dpkg-new", ".dpkg-old", ".dpkg-dist", ".dpkg-bak", ".dpkg-tmp",
		".ucf-new", ".ucf-old", ".ucf-dist", ".rpmnew", ".rpmsave", ".rpmorig", ".apk-new",
		".orig", ".bak", ".old", ".swp", "~"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "README")
}

func sysvServices(ctx context.Context, cfg Config, live bool) ([]inventory.Service, error) {
	entries, err := os.ReadDir(inRoot(cfg.Root, "/etc/init.d"))
	if errors.Is(err, fs.ErrNotExist) {
		return []inventory.Service{}, nil // a container without init scripts runs no services
	}
	if err != nil {
		return nil, fmt.Errorf("list init scripts: %w", err)
	}
	auto := sysvBootScripts(cfg)
	var comms map[string]bool // process names, read when first needed
	out := make([]inventory.Service, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if sysvNotServices[name] || sysvLeftover(name) {
			continue
		}
		file := inRoot(cfg.Root, "/etc/init.d/"+name)
		fi, err := os.Stat(file)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, _ := os.ReadFile(file)
		script := parseInitScript(data, name)
		s := inventory.Service{
			Name:        name,
			DisplayName: script.description,
			State:       inventory.ServiceUnknown,
			StartMode:   inventory.StartManual,
			Path:        "/etc/init.d/" + name,
		}
		if auto[name] {
			s.StartMode = inventory.StartAuto
		}
		if live {
			s.State = script.state(cfg, &comms)
		}
		out = append(out, s)
	}
	return out, nil
}

// sysvBootScripts returns the scripts that start at boot.
func sysvBootScripts(cfg Config) map[string]bool {
	auto := make(map[string]bool)
	for _, dir := range []string{"/etc/rcS.d", "/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d", "/etc/rc5.d",
		"/etc/rc.d/rc2.d", "/etc/rc.d/rc3.d", "/etc/rc.d/rc4.d", "/etc/rc.d/rc5.d"} {
		hostDir := inRoot(cfg.Root, dir)
		entries, _ := os.ReadDir(hostDir)
		for _, e := range entries {
			link := e.Name()
			if len(link) < 2 || link[0] != 'S' {
				continue
			}
			// S20ssh -> ../init.d/ssh; the target is the script whatever
			// the link is called.
			if target, err := os.Readlink(hostDir + "/" + link); err == nil {
				auto[path.Base(target)] = true
			} else {
				auto[strings.TrimLeft(link[1:], "0123456789")] = true
			}
		}
	}
	for _, level := range []string{"sysinit", "boot", "default"} {
		entries, _ := os.ReadDir(inRoot(cfg.Root, "/etc/runlevels/"+level))
		for _, e := range entries {
			auto[e.Name()] = true
		}
	}
	return auto
}

// initScript is what an init script says about itself.
type initScript struct {
	description string
	pidFile     string // absolute path on the inspected system
	daemon      string // absolute path of the program it runs
}

// parseInitScript reads the LSB header and the plain variable assignments
// of a script without running it. Values that need the shell ($(...),
// unknown variables) are ignored; the first assignment of a name wins, as
// later ones are usually in branches.
func parseInitScript(data []byte, name string) initScript {
	vars := map[string]string{"RC_SVCNAME": name, "SVCNAME": name}
	var s initScript
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if c, ok := strings.CutPrefix(line, "#"); ok {
			c = strings.TrimSpace(c)
			for _, key := range []string{"Short-Description:", "description:"} {
				if v, ok := strings.CutPrefix(c, key); ok && s.description == "" {
					s.description = strings.TrimSpace(v)
				}
			}
			continue
		}
		key, value, ok := shellAssignment(line, vars)
		if !ok {
			continue
		}
		if _, set := vars[key]; !set {
			vars[key] = value
		}
	}
	if s.description == "" {
		s.description = vars["description"]
	}
	for _, k := range []string{"PIDFILE", "pidfile"} {
		if v := vars[k]; path.IsAbs(v) && s.pidFile == "" {
			s.pidFile = v
		}
	}
	for _, k := range []string{"DAEMON", "command"} {
		if v := vars[k]; path.IsAbs(v) && s.daemon == "" {
			s.daemon = v
		}
	}
	return s
}

// shellAssignment parses `[export] NAME=value` where value is a plain,
// single- or double-quoted word whose $NAME and ${NAME} references are all
// known.
func shellAssignment(line string, vars map[string]string) (string, string, bool) {
	line = strings.TrimPrefix(line, "export ")
	key, raw, ok := strings.Cut(line, "=")
	if !ok || key == "" || !shellName(key) {
		return "", "", false
	}
	var value string
	switch {
	case strings.HasPrefix(raw, "'"):
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", "", false
		}
		return key, raw[1 : 1+end], true
	case strings.HasPrefix(raw, `"`):
		end := strings.IndexByte(raw[1:], '"')
		if end < 0 {
			return "", "", false
		}
		value = raw[1 : 1+end]
	default:
		if i := strings.IndexAny(raw, " \t;#&|"); i >= 0 {
			raw = raw[:i]
		}
		value = raw
	}
	if strings.ContainsAny(value, "`\\") || strings.Contains(value, "$(") {
		return "", "", false
	}
	expanded, ok := expandShellVars(value, vars)
	return key, expanded, ok
}

func shellName(s string) bool {
	for i, c := range s {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func expandShellVars(v string, vars map[string]string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' {
			b.WriteByte(v[i])
			continue
		}
		var name string
		if strings.HasPrefix(v[i+1:], "{") {
			end := strings.IndexByte(v[i:], '}')
			if end < 0 {
				return "", false
			}
			name = v[i+2 : i+end]
			i += end
		} else {
			j := i + 1
			for j < len(v) && shellName(v[i+1:j+1]) {
				j++
			}
			name = v[i+1 : j]
			i = j - 1
		}
		val, ok := vars[name]
		if !ok || name == "" {
			return "", false
		}
		b.WriteString(val)
	}
	return b.String(), true
}

// state says whether the script's program runs. A pid file settles it
// when it names a live process running that program; otherwise any
// process with the program's name counts (the kernel keeps the first 15
// bytes of a process name).
func (s initScript) state(cfg Config, comms *map[string]bool) string {
	want := ""
	if s.daemon != "" {
		want = processName(path.Base(s.daemon))
	}
	if s.pidFile != "" {
		data, err := os.ReadFile(inRoot(cfg.Root, s.pidFile))
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if err == nil && perr == nil && pid > 0 {
			comm, err := os.ReadFile(cfg.proc(strconv.Itoa(pid) + "/comm"))
			if err == nil && (want == "" || strings.TrimSpace(string(comm)) == want) {
				return inventory.ServiceRunning
			}
			if want == "" {
				return inventory.ServiceStopped // a stale pid file
			}
		}
	}
	if want == "" {
		return inventory.ServiceUnknown
	}
	if *comms == nil {
		*comms = processNames(cfg.ProcDir)
	}
	if (*comms)[want] {
		return inventory.ServiceRunning
	}
	return inventory.ServiceStopped
}

// processName is name as the kernel stores it in /proc/<pid>/comm.
func processName(name string) string {
	if len(name) > 15 {
		return name[:15]
	}
	return name
}

// processNames returns the names of all processes.
func processNames(procDir string) map[string]bool {
	out := make(map[string]bool)
	for _, pid := range pids(procDir) {
		if comm, err := os.ReadFile(procDir + "/" + strconv.Itoa(pid) + "/comm"); err == nil {
			out[strings.TrimSpace(string(comm))] = true
		}
	}
	return out
}
