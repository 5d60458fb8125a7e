package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/steward-project/steward/installers/systemd"
	"github.com/steward-project/steward/server/internal/config"
	svc "github.com/steward-project/steward/shared/service"
)

// Defaults of a service install.
const (
	ServerName = "steward-server" // the service's name
	ServerUser = "steward"        // the account it runs as
	ConfigFile = "/etc/steward/server.yaml"
	DataDir    = "/var/lib/steward" // the systemd unit's StateDirectory
)

// serverHeader heads a configuration file that install creates.
const serverHeader = "steward-server configuration, written by `steward-server install`.\n" +
	"Keys: listen, db, data_dir, tls_cert, tls_key, log_level, agent, metrics,\n" +
	"alerting. See README.md and docs/service.md."

// ServerMain runs one service command of steward-server for the service
// name, run as account, with the machine's service manager. On other
// systems than Linux every command says the server is a Linux service
// only and exits 2.
func ServerMain(cmd string, args []string, name, account string, stdout, stderr io.Writer) int {
	if runtime.GOOS != "linux" {
		fmt.Fprintf(stderr, "steward-server %s: running steward-server as a service is supported on Linux only\n", cmd)
		return svc.ExitUsage
	}
	return NewServerTool(name, account, stdout, stderr, nil, nil).Run(cmd, args)
}

// Account creates and looks up the service account; tests replace it.
type Account interface {
	// Ensure creates the system user and group name, with home as its
	// home directory, unless it exists; it reports whether it created it.
	Ensure(name, home string) (created bool, err error)
	// IDs returns the user's uid and its primary group's gid.
	IDs(name string) (uid, gid int, err error)
}

// NewServerTool returns steward-server's service commands for the
// service called name, run as the account user. open and account are nil
// outside tests.
func NewServerTool(name, account string, stdout, stderr io.Writer, open func(manager string) (svc.Manager, error), acc Account) *svc.Tool {
	if open == nil {
		open = func(manager string) (svc.Manager, error) { return svc.Open(name, manager) }
	}
	if acc == nil {
		acc = systemAccount{}
	}
	t := &svc.Tool{Prog: "steward-server", Name: name, Stdout: stdout, Stderr: stderr, Open: open,
		Admin: func() bool { return os.Geteuid() == 0 }}
	t.Install = func(args []string) int { return serverInstall(t, account, acc, args) }
	t.LogHint = func(platform string) string { return serverLogHint(name, platform) }
	return t
}

// serverLogFile is where an init script sends the server's output.
func serverLogFile(name string) string { return "/var/log/" + name + ".log" }

func serverLogHint(name, platform string) string {
	if platform == svc.Systemd {
		return "the journal: journalctl -u " + name
	}
	return serverLogFile(name)
}

// ServerSpec is how the server is registered under platform: to run
// `steward-server serve --config FILE` as account, with the hardened
// systemd unit (allowed to write the data directory and the SQLite
// database wherever the configuration puts them) or the init scripts of
// shared/service, which start it through setpriv (SysV) or with command_user
// (OpenRC).
func ServerSpec(name, account, platform, file string, cfg config.Config) svc.Spec {
	opts := map[string]any{}
	switch platform {
	case svc.Systemd:
		opts["SystemdScript"] = svc.WritablePaths(systemd.ServerUnit, "StateDirectoryMode=", serverWritable(cfg))
	case svc.SysV:
		opts["SysvScript"] = svc.SysVScript(name, serverLogFile(name), account)
	case svc.OpenRC:
		opts["OpenRCScript"] = svc.OpenRCScript(name, serverLogFile(name), account)
	}
	return svc.Spec{
		Name:        name,
		DisplayName: "Steward server",
		Description: "Steward server: stores inventory and serves the API",
		Arguments:   []string{"serve", "--config", file},
		UserName:    account,
		Options:     opts,
	}
}

// serverWritable lists the directories the server writes outside the
// unit's StateDirectory (/var/lib/steward).
func serverWritable(cfg config.Config) []string {
	var dirs []string
	add := func(d string) {
		d = filepath.Clean(d)
		if d == DataDir || strings.HasPrefix(d, DataDir+"/") {
			return
		}
		for _, have := range dirs {
			if have == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	add(cfg.DataDir)
	if kind, path, err := config.ParseDB(cfg.DB); err == nil && kind == config.SQLite {
		add(filepath.Dir(path))
	}
	return dirs
}

// serverFlags are install's flags: serve's, each left empty when not
// given.
type serverFlags struct {
	file, listen, db, dataDir, tlsCert, tlsKey, logLevel, manager string
}

// serverInstall writes the configuration file from the flags (keeping an
// existing file's other keys and sections), creates the account and the
// data directory, and registers the service.
func serverInstall(t *svc.Tool, account string, acc Account, args []string) int {
	var f serverFlags
	flags := flag.NewFlagSet("install", flag.ContinueOnError)
	flags.SetOutput(t.Stderr)
	flags.StringVar(&f.file, "config", ConfigFile, "configuration file to write and run with")
	flags.StringVar(&f.listen, "listen", "", "address to listen on (new file: 127.0.0.1:8080)")
	flags.StringVar(&f.db, "db", "", "database: sqlite://PATH or postgres://... (new file: SQLite in the data directory)")
	flags.StringVar(&f.dataDir, "data-dir", "", "directory for the admin token and enroll secret files (new file: "+DataDir+")")
	flags.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	flags.StringVar(&f.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	flags.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	manager := svc.ManagerFlag(flags)
	if err := flags.Parse(args); err != nil {
		return svc.ExitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(t.Stderr, "steward-server install: unexpected argument %q\n", flags.Arg(0))
		return svc.ExitUsage
	}
	if !t.CheckManagerName("install", *manager) {
		return svc.ExitUsage
	}
	if !t.CheckAdmin("install") {
		return svc.ExitFailure
	}
	// The service starts in /: every path must be absolute.
	for _, p := range []*string{&f.file, &f.dataDir, &f.tlsCert, &f.tlsKey} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				fmt.Fprintf(t.Stderr, "steward-server install: %v\n", err)
				return svc.ExitUsage
			}
			*p = abs
		}
	}
	if path, ok := strings.CutPrefix(f.db, "sqlite://"); ok && path != "" && !filepath.IsAbs(path) {
		abs, _ := filepath.Abs(path)
		f.db = "sqlite://" + abs
	}

	src, err := os.ReadFile(f.file)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(t.Stderr, "steward-server install: config file: %v\n", err)
		return svc.ExitFailure
	}
	var settings []svc.Setting
	if !exists {
		// A new file names everything a service needs: the default
		// database (./data/steward.db) would be relative to /.
		dataDir := f.dataDir
		if dataDir == "" {
			dataDir = DataDir
		}
		settings = append(settings, svc.Setting{Key: "listen", Value: "127.0.0.1:8080"}, svc.Setting{Key: "data_dir", Value: dataDir},
			svc.Setting{Key: "db", Value: "sqlite://" + filepath.Join(dataDir, "steward.db")})
	}
	for _, s := range []svc.Setting{{Key: "listen", Value: f.listen}, {Key: "db", Value: f.db}, {Key: "data_dir", Value: f.dataDir},
		{Key: "tls_cert", Value: f.tlsCert}, {Key: "tls_key", Value: f.tlsKey}, {Key: "log_level", Value: f.logLevel}} {
		if s.Value != "" {
			settings = append(settings, s)
		}
	}
	out, changed, err := svc.ApplySettings(src, serverHeader, settings)
	if err != nil {
		fmt.Fprintf(t.Stderr, "steward-server install: config file %s: %v\n", f.file, err)
		return svc.ExitUsage
	}
	cfg, err := checkServerConfig(f.file, out)
	if err != nil {
		fmt.Fprintf(t.Stderr, "steward-server install: %v\n", err)
		return svc.ExitUsage
	}
	m, code := t.OpenManager("install", *manager)
	if m == nil {
		return code
	}

	created, err := acc.Ensure(account, DataDir)
	if err != nil {
		return t.Fail("install", m, fmt.Errorf("service account %s: %w", account, err))
	}
	if created {
		t.Say("created system user and group %s", account)
	}
	uid, gid, err := acc.IDs(account)
	if err != nil {
		return t.Fail("install", m, fmt.Errorf("service account %s: %w", account, err))
	}
	if err := os.MkdirAll(filepath.Dir(f.file), 0o755); err != nil {
		return t.Fail("install", m, err)
	}
	// The account reads its configuration (which may hold a database
	// password) and cannot change it: root:ACCOUNT 0640.
	if changed {
		if _, err := svc.WriteFile(f.file, out, 0o640); err != nil {
			return t.Fail("install", m, err)
		}
		t.Say("wrote %s (root:%s, mode 0640)", f.file, account)
	} else {
		t.Say("%s unchanged", f.file)
	}
	if err := own(t, f.file, 0o640, os.Geteuid(), gid); err != nil { // root, who installs
		return t.Fail("install", m, err)
	}
	// The data directory holds the admin token and enroll secret and,
	// by default, the database: the account's own, 0700.
	dirs := []string{cfg.DataDir}
	if kind, path, err := config.ParseDB(cfg.DB); err == nil && kind == config.SQLite {
		dirs = append(dirs, filepath.Dir(path))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return t.Fail("install", m, err)
		}
		if err := own(t, d, 0o700, uid, gid); err != nil {
			return t.Fail("install", m, err)
		}
	}
	return t.Register(m, ServerSpec(t.Name, account, m.Platform(), f.file, cfg))
}

// checkServerConfig loads the configuration the service would run with
// (as `steward-server serve --config file`, without STEWARD_* variables)
// and returns it, or every problem with it.
func checkServerConfig(file string, data []byte) (config.Config, error) {
	tmp, err := os.CreateTemp("", "steward-server-install-*.yaml")
	if err != nil {
		return config.Config{}, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return config.Config{}, err
	}
	noEnv := func(string) string { return "" }
	cfg, err := config.Load("serve", []string{"--config", tmp.Name()}, noEnv, io.Discard)
	if err != nil {
		return cfg, errors.New(strings.ReplaceAll(err.Error(), tmp.Name(), file))
	}
	return cfg, nil
}

// own gives path the owner, group and mode, reporting a change.
func own(t *svc.Tool, path string, perm fs.FileMode, uid, gid int) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != perm {
		if err := os.Chmod(path, perm); err != nil {
			return err
		}
		t.Say("set the mode of %s to %#o", path, perm)
	}
	if ouid, ogid, ok := owner(fi); ok && (ouid != uid || ogid != gid) {
		if err := os.Chown(path, uid, gid); err != nil {
			return err
		}
		t.Say("gave %s to %d:%d", path, uid, gid)
	}
	return nil
}

// systemAccount creates system accounts with useradd (most
// distributions) or BusyBox's adduser (Alpine).
type systemAccount struct{}

func (systemAccount) Ensure(name, home string) (bool, error) {
	if _, err := user.Lookup(name); err == nil {
		return false, nil
	}
	shell := "/bin/false"
	for _, s := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if _, err := os.Stat(s); err == nil {
			shell = s
			break
		}
	}
	var cmds [][]string
	if _, err := exec.LookPath("useradd"); err == nil {
		cmds = [][]string{{"useradd", "--system", "--user-group", "--home-dir", home, "--no-create-home", "--shell", shell, name}}
	} else if _, err := exec.LookPath("adduser"); err == nil {
		cmds = [][]string{{"addgroup", "-S", name}, {"adduser", "-S", "-D", "-H", "-h", home, "-s", shell, "-G", name, name}}
	} else {
		return false, errors.New("neither useradd nor adduser found; create the user and group yourself")
	}
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return false, fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return true, nil
}

func (systemAccount) IDs(name string) (int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	return uid, gid, nil
}
