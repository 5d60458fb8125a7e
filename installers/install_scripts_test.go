package installers

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The scripts under test. The macOS tarball's own script is built and
// run by installers/packaging's tests; here it only joins the URL policy
// comparison.
const (
	installSh   = "install.sh"
	installPs1  = "install.ps1"
	macInstallS = "macos/install.sh"
)

func TestInstallScriptsLint(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck not found: install it with `apt-get install -y shellcheck` (scripts/test-deps.sh does)")
	}
	for _, script := range []string{installSh, macInstallS} {
		if out, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", script, err, out)
		}
		if out, err := exec.Command(sc, "-s", "sh", script).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", script, err, out)
		}
	}
}

// shFunc sources script without running it (STEWARD_INSTALL_LIB=1) and
// runs one of its functions; it returns the output and whether the
// function succeeded.
func shFunc(t *testing.T, script, fn string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `. "./$0"; "$@"`, script, fn}, args...)...)
	cmd.Env = append(os.Environ(), "STEWARD_INSTALL_LIB=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
	}
	return strings.TrimSpace(string(out)), err == nil
}

func TestInstallShArch(t *testing.T) {
	for machine, want := range map[string]string{
		"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv8l": "arm64",
		"i686": "", "armv7l": "", "riscv64": "", "s390x": "",
	} {
		got, ok := shFunc(t, installSh, "arch_of", machine)
		if got != want || ok != (want != "") {
			t.Errorf("arch_of %s = %q (ok %v), want %q", machine, got, ok, want)
		}
	}
}

func TestInstallShDistro(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ osRelease, want string }{
		"debian":   {"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n", "deb"},
		"ubuntu":   {"NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n", "deb"},
		"mint":     {"ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", "deb"},
		"fedora":   {"NAME=\"Fedora Linux\"\nID=fedora\n", "rpm"},
		"rhel":     {"ID=\"rhel\"\nID_LIKE=\"fedora\"\n", "rpm"},
		"rocky":    {"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", "rpm"},
		"opensuse": {"ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n", "rpm"},
		"amazon":   {"ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\n", "rpm"},
		// No trailing newline, CRLF-free: still read.
		"no newline": {"ID=debian", "deb"},
		"alpine":     {"ID=alpine\n", ""},
		"arch":       {"ID=arch\n", ""},
		// A distribution's name that merely contains a known one.
		"lookalike": {"ID=notdebian\n", ""},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(path, []byte(tc.osRelease), 0o644)
		got, ok := shFunc(t, installSh, "family_of", path)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: family_of = %q (ok %v), want %q", name, got, ok, tc.want)
		}
	}
}

func TestInstallShPackageNames(t *testing.T) {
	for _, tc := range []struct{ family, version, arch, want string }{
		{"deb", "1.2.0", "amd64", "steward-agent_1.2.0-1_amd64.deb"},
		{"deb", "1.2.0~rc.1", "arm64", "steward-agent_1.2.0~rc.1-1_arm64.deb"},
		{"rpm", "1.2.0", "amd64", "steward-agent-1.2.0-1.x86_64.rpm"},
		{"rpm", "1.2.0", "arm64", "steward-agent-1.2.0-1.aarch64.rpm"},
		{"darwin", "1.2.0", "arm64", "steward-agent-1.2.0-darwin-arm64.tar.gz"},
	} {
		if got, ok := shFunc(t, installSh, "package_file", tc.family, tc.version, tc.arch); !ok || got != tc.want {
			t.Errorf("package_file %s %s %s = %q, want %q", tc.family, tc.version, tc.arch, got, tc.want)
		}
	}
}

// urlCases are what every installer must agree on: may this URL be used,
// without and with the insecure-http switch?
var urlCases = []struct {
	url              string
	secure, insecure bool
}{
	{"https://steward.example.com", true, true},
	{"https://steward.example.com:8443/base/", true, true},
	{"HTTPS://STEWARD.EXAMPLE.COM", true, true},
	{"https://10.0.0.5:8443", true, true},
	{"http://localhost", true, true},
	{"http://localhost:8080", true, true},
	{"HTTP://LOCALHOST:8080/", true, true},
	{"http://127.0.0.1:8080/packages", true, true},
	{"http://127.1.2.3", true, true},
	{"http://[::1]:8080", true, true},
	{"http://localhost?x=1", true, true},
	{"http://steward.example.com", false, true},
	{"http://10.0.0.5:8080", false, true},
	{"http://localhost.example.com", false, true},
	{"http://127.0.0.1.example.com", false, true},
	{"http://127.0.0.1@evil.example.com", false, true},
	{"http://localhost:8080@evil.example.com", false, true},
	{"http://[::1].example.com", false, true},
	{"http://0.0.0.0:8080", false, true},
	{"http://localhost:http", false, true},
	{"http://", false, false},
	{"https://", false, false},
	{"ftp://steward.example.com", false, false},
	{"steward.example.com", false, false},
	{"", false, false},
	{"https://steward.example.com/a b", false, false},
	{"http://localhost/a b", false, false},
	{"http://localhost\nhttp://evil.example.com", false, false},
	{"https://ok.example.com\n", false, false},
}

// patterns reads the three URL patterns from a script: the shell
// variables STEWARD_SECURE_RE, STEWARD_LOOPBACK_RE and STEWARD_HTTP_RE, or
// the PowerShell variables $SecureUrlPattern, $LoopbackUrlPattern and
// $HttpUrlPattern, all single-quoted.
func patterns(t *testing.T, script string) [3]string {
	t.Helper()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	var out [3]string
	names := [3]string{"STEWARD_SECURE_RE=", "STEWARD_LOOPBACK_RE=", "STEWARD_HTTP_RE="}
	if strings.HasSuffix(script, ".ps1") {
		names = [3]string{"$SecureUrlPattern = ", "$LoopbackUrlPattern = ", "$HttpUrlPattern = "}
	}
	for i, name := range names {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `'([^']*)'$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no %s'...' line", script, name)
		}
		out[i] = string(m[1])
	}
	return out
}

// TestURLPolicyAgrees checks that install.sh, the macOS tarball's
// install.sh and install.ps1 accept and refuse the same URLs. The two
// shell scripts are run. PowerShell is not available here, so for
// install.ps1 the test checks that it holds the very same patterns, that
// Test-StewardUrl applies them in the same order as url_policy (line
// breaks refused, https, loopback http, then any http when allowed), and
// evaluates them with Go's regexp, which reads these simple patterns as
// .NET and POSIX ERE do.
func TestURLPolicyAgrees(t *testing.T) {
	sh, mac, ps := patterns(t, installSh), patterns(t, macInstallS), patterns(t, installPs1)
	if sh != mac || sh != ps {
		t.Fatalf("the URL patterns differ:\ninstall.sh       %q\nmacos/install.sh %q\ninstall.ps1      %q", sh, mac, ps)
	}
	ps1, _ := os.ReadFile(installPs1)
	body := regexp.MustCompile(`(?s)function Test-StewardUrl\(.*?\n\}`).Find(ps1)
	order := []string{"[`r`n]", "$SecureUrlPattern", "$LoopbackUrlPattern", "$AllowInsecureHttp -and ($Url -match $HttpUrlPattern)"}
	last := -1
	for _, piece := range order {
		i := bytes.Index(body, []byte(piece))
		if i < 0 || i < last {
			t.Fatalf("Test-StewardUrl does not apply %q in the order of url_policy:\n%s", piece, body)
		}
		last = i
	}
	var re [3]*regexp.Regexp
	for i, p := range ps {
		re[i] = regexp.MustCompile("(?i)" + p)
	}
	psPolicy := func(url string, insecure bool) bool {
		if strings.ContainsAny(url, "\r\n") {
			return false
		}
		return re[0].MatchString(url) || re[1].MatchString(url) || (insecure && re[2].MatchString(url))
	}
	for _, tc := range urlCases {
		for _, insecure := range []bool{false, true} {
			want := tc.secure
			flag := "no"
			if insecure {
				want, flag = tc.insecure, "yes"
			}
			for _, script := range []string{installSh, macInstallS} {
				if _, ok := shFunc(t, script, "url_policy", tc.url, flag); ok != want {
					t.Errorf("%s url_policy %q insecure=%s: %v, want %v", script, tc.url, flag, ok, want)
				}
			}
			if got := psPolicy(tc.url, insecure); got != want {
				t.Errorf("install.ps1 patterns %q insecure=%v: %v, want %v", tc.url, insecure, got, want)
			}
		}
	}
}

// psBalanced checks that the parentheses, braces and brackets of a
// PowerShell script pair up outside strings and comments: a crude stand-in
// for the parser this machine does not have.
func psBalanced(src string) error {
	var stack []rune
	pairs := map[rune]rune{')': '(', '}': '{', ']': '['}
	rs := []rune(src)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '<' && i+1 < len(rs) && rs[i+1] == '#':
			end := strings.Index(string(rs[i:]), "#>")
			if end < 0 {
				return errors.New("unterminated <# comment")
			}
			i += len([]rune(string(rs[i:])[:end])) + 1
		case c == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case c == '\'':
			for i++; i < len(rs); i++ {
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
			if i == len(rs) {
				return errors.New("unterminated '...' string")
			}
		case c == '"':
			// $( ... ) inside is code, but this script keeps it simple:
			// only $($p.ExitCode), balanced itself.
			for i++; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '`' {
					i++
				}
			}
			if i == len(rs) {
				return errors.New("unterminated \"...\" string")
			}
		case c == '(' || c == '{' || c == '[':
			stack = append(stack, c)
		case pairs[c] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return errors.New("unbalanced " + string(c) + " near: " + string(rs[max(0, i-60):i+1]))
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return errors.New("unclosed " + string(stack))
	}
	return nil
}

func TestInstallPs1(t *testing.T) {
	b, err := os.ReadFile(installPs1)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if err := psBalanced(src); err != nil {
		t.Errorf("install.ps1: %v", err)
	}
	for _, bad := range []string{"{(})", "'open", "(\"x\"", "<# open"} {
		if psBalanced(bad) == nil {
			t.Errorf("psBalanced(%q) found nothing wrong", bad)
		}
	}
	for _, piece := range []string{
		"[Parameter(Mandatory = $true)]\n    [string]$Server",
		"[string]$EnrollSecretFile", "[string]$CaFile", "[string]$PackagesUrl", "[switch]$InsecureHttp",
		"$env:STEWARD_ENROLL_SECRET",
		// The MSI's properties and silent install.
		"'/qn'", "\"STEWARD_SERVER=`\"$Server`\"\"", "\"ENROLL_SECRET=`\"$secret`\"\"", "\"CA_FILE=`\"$CaFile`\"\"",
		"Start-Process -FilePath msiexec.exe -ArgumentList $msiArgs -Wait -PassThru",
		"$p.ExitCode -ne 0 -and $p.ExitCode -ne 3010",
		// The same name installers/packaging.MSI writes.
		"\"steward-agent-$Version-windows-amd64.msi\"",
		// Both URLs go through the policy.
		"Test-StewardUrl $Server $InsecureHttp.IsPresent", "Test-StewardUrl $PackagesUrl $InsecureHttp.IsPresent",
		"$PackagesUrl/LATEST",
		// The secret is masked in a dry run.
		"-replace [regex]::Escape($secret), '********'",
	} {
		if !strings.Contains(src, piece) {
			t.Errorf("install.ps1 lacks %q", piece)
		}
	}
	// "$name:" in a double-quoted string is a scope-qualified variable
	// in PowerShell, a parse error for an ordinary name.
	if m := regexp.MustCompile(`"[^"\n]*\$[A-Za-z_]+:[^:\\]`).FindString(src); m != "" && !strings.Contains(m, "$env:") {
		t.Errorf("install.ps1 has %q: write ${name}: instead", m)
	}
}

// linuxFakes makes a bin directory with uname (Linux on machine), dpkg
// and rpm that record their arguments and what /etc/steward held when
// they ran.
func linuxFakes(t *testing.T, machine, root string) (bin, record string) {
	t.Helper()
	bin = t.TempDir()
	record = filepath.Join(bin, "record")
	write := func(name, script string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("uname", "case $1 in -s) echo Linux ;; -m) echo "+machine+" ;; esac\n")
	pkgTool := `{ echo "$(basename "$0") $1"; cat "$2"; echo; cat '` + root + `/etc/steward/enroll.env'; } > '` + record + "'\n"
	write("dpkg", pkgTool)
	write("rpm", `shift; `+strings.Replace(pkgTool, "$1", "-U $1", 1))
	return bin, record
}

func TestInstallShLinux(t *testing.T) {
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/packages/LATEST":
			io.WriteString(w, "1.2.0\n")
		case "/packages/steward-agent_1.2.0-1_amd64.deb":
			io.WriteString(w, "the deb")
		case "/pub/steward-agent-1.3.0-1.aarch64.rpm":
			io.WriteString(w, "the rpm")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	debian := filepath.Join(dir, "debian")
	os.WriteFile(debian, []byte("ID=debian\n"), 0o644)
	rocky := filepath.Join(dir, "rocky")
	os.WriteFile(rocky, []byte("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"), 0o644)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("  0123abcd  \n"), 0o600)
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644)

	run := func(t *testing.T, machine, osRelease, root string, env []string, args ...string) (string, int, string) {
		t.Helper()
		bin, record := linuxFakes(t, machine, root)
		cmd := exec.Command("sh", append([]string{installSh}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
			"STEWARD_DESTDIR=" + root, "STEWARD_OS_RELEASE=" + osRelease, "STEWARD_ENROLL_SECRET="}, env...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		rec, _ := os.ReadFile(record)
		return string(out), code, string(rec)
	}

	t.Run("deb", func(t *testing.T) {
		mu.Lock()
		requests = nil
		mu.Unlock()
		root := t.TempDir()
		out, code, rec := run(t, "x86_64", debian, root, nil, "--server", srv.URL, "--enroll-secret-file", secret, "--ca-file", ca)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if want := []string{"/packages/LATEST", "/packages/steward-agent_1.2.0-1_amd64.deb"}; !reflect.DeepEqual(requests, want) {
			t.Errorf("requests %v, want %v", requests, want)
		}
		// dpkg saw the downloaded package, with enroll.env already
		// written for its scripts.
		wantEnv := "STEWARD_SERVER=" + srv.URL + "\nSTEWARD_ENROLL_SECRET=0123abcd\nSTEWARD_CA_FILE=/etc/steward/ca.pem\n"
		if !strings.HasPrefix(rec, "dpkg -i\nthe deb\n") || !strings.HasSuffix(rec, wantEnv) {
			t.Errorf("dpkg record:\n%s\nwant dpkg -i, the deb, and enroll.env ending in:\n%s", rec, wantEnv)
		}
		env := filepath.Join(root, "etc", "steward", "enroll.env")
		if fi, err := os.Stat(env); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("enroll.env mode %v, want 0600", fi.Mode().Perm())
		}
		if b, _ := os.ReadFile(filepath.Join(root, "etc", "steward", "ca.pem")); !strings.Contains(string(b), "BEGIN CERTIFICATE") {
			t.Error("ca.pem was not copied")
		}
	})

	t.Run("rpm", func(t *testing.T) {
		root := t.TempDir()
		out, code, rec := run(t, "aarch64", rocky, root, []string{"STEWARD_ENROLL_SECRET=fromenv"},
			"--server", "https://steward.example.com", "--packages-url", srv.URL+"/pub/", "--version", "1.3.0")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if !strings.HasPrefix(rec, "rpm -U --replacepkgs\nthe rpm\n") || !strings.Contains(rec, "STEWARD_ENROLL_SECRET=fromenv\n") ||
			strings.Contains(rec, "STEWARD_CA_FILE") {
			t.Errorf("rpm record:\n%s", rec)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		local := filepath.Join(dir, "local.deb")
		os.WriteFile(local, []byte("local deb"), 0o644)
		for _, tc := range []struct {
			name    string
			machine string
			env     []string
			args    []string
			want    string
		}{
			{"http server", "x86_64", nil, []string{"--server", "http://steward.example.com", "--enroll-secret-file", secret}, "refusing server URL"},
			{"http packages", "x86_64", nil, []string{"--server", "https://steward.example.com", "--enroll-secret-file", secret,
				"--packages-url", "http://packages.example.com"}, "refusing packages URL"},
			{"no server", "x86_64", nil, []string{"--enroll-secret-file", secret}, "--server is required"},
			{"no secret", "x86_64", nil, []string{"--server", "https://steward.example.com"}, "no enroll secret"},
			{"32-bit", "i686", nil, []string{"--server", "https://steward.example.com", "--enroll-secret-file", secret}, "unsupported architecture"},
			{"not a CA", "x86_64", nil, []string{"--server", "https://steward.example.com", "--enroll-secret-file", secret, "--ca-file", secret}, "no PEM certificate"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				mu.Lock()
				requests = nil
				mu.Unlock()
				root := t.TempDir()
				out, code, rec := run(t, tc.machine, debian, root, tc.env, tc.args...)
				if code == 0 || !strings.Contains(out, tc.want) {
					t.Errorf("exit %d, want a failure saying %q:\n%s", code, tc.want, out)
				}
				if rec != "" || len(requests) > 0 {
					t.Errorf("refused, yet dpkg ran (%q) or downloads happened (%v)", rec, requests)
				}
				if entries, _ := os.ReadDir(root); len(entries) > 0 {
					t.Errorf("wrote %v before refusing", entries)
				}
			})
		}
		// --insecure-http lets plain http through (with a local package,
		// so that nothing is downloaded from the made-up host).
		root := t.TempDir()
		out, code, rec := run(t, "x86_64", debian, root, nil, "--server", "http://steward.example.com",
			"--enroll-secret-file", secret, "--insecure-http", "--package", local)
		if code != 0 || !strings.HasPrefix(rec, "dpkg -i\nlocal deb\n") {
			t.Errorf("--insecure-http: exit %d, record %q\n%s", code, rec, out)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		root := t.TempDir()
		out, code, rec := run(t, "x86_64", debian, root, nil, "--server", srv.URL, "--enroll-secret-file", secret, "--version", "1.2.0", "--dry-run")
		if code != 0 || rec != "" || !strings.Contains(out, "would download "+srv.URL+"/packages/steward-agent_1.2.0-1_amd64.deb") ||
			!strings.Contains(out, "would run: dpkg -i") || strings.Contains(out, "0123abcd") {
			t.Errorf("dry run: exit %d, record %q\n%s", code, rec, out)
		}
		if entries, _ := os.ReadDir(root); len(entries) > 0 {
			t.Errorf("a dry run wrote %v", entries)
		}
	})
}
