package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SSHDCheck is the sshd leaf: one keyword of the OpenSSH server's
// effective configuration, judged by the ValueTest keys.
type SSHDCheck struct {
	Key string `json:"key" yaml:"key"`
	// Match: "global" (default) judges the value outside Match blocks;
	// "all" also judges every value a Match block sets.
	Match     string `json:"match,omitempty" yaml:"match,omitempty"`
	ValueTest `yaml:",inline"`
}

const (
	sshdConfigPath = "/etc/ssh/sshd_config"
	sshdDir        = "/etc/ssh"
	// sshdMaxDepth mirrors sshd's limit on nested Include.
	sshdMaxDepth = 16
)

var sshdKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// sshdKeywords are the keywords of OpenSSH 9.2p1's sshd_config(5), with
// Debian's additions (DebianBanner, the GSSAPI key exchange ones) and the
// deprecated names sshd still reads, by lower-case name.
var sshdKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`
AcceptEnv AddressFamily AllowAgentForwarding AllowGroups AllowStreamLocalForwarding AllowTcpForwarding AllowUsers
AuthenticationMethods AuthorizedKeysCommand AuthorizedKeysCommandUser AuthorizedKeysFile AuthorizedPrincipalsCommand
AuthorizedPrincipalsCommandUser AuthorizedPrincipalsFile Banner CASignatureAlgorithms ChallengeResponseAuthentication
ChannelTimeout ChrootDirectory Ciphers ClientAliveCountMax ClientAliveInterval Compression DebianBanner DenyGroups
DenyUsers DisableForwarding ExposeAuthInfo FingerprintHash ForceCommand GatewayPorts GSSAPIAuthentication
GSSAPICleanupCredentials GSSAPIKexAlgorithms GSSAPIKeyExchange GSSAPIStoreCredentialsOnRekey GSSAPIStrictAcceptorCheck
HostbasedAcceptedAlgorithms HostbasedAcceptedKeyTypes HostbasedAuthentication HostbasedUsesNameFromPacketOnly
HostCertificate HostKey HostKeyAgent HostKeyAlgorithms IgnoreRhosts IgnoreUserKnownHosts IPQoS
KbdInteractiveAuthentication KerberosAuthentication KerberosGetAFSToken KerberosOrLocalPasswd KerberosTicketCleanup
KexAlgorithms ListenAddress LoginGraceTime LogLevel LogVerbose MACs MaxAuthTries MaxSessions MaxStartups ModuliFile
PasswordAuthentication PermitEmptyPasswords PermitListen PermitOpen PermitRootLogin PermitTTY PermitTunnel
PermitUserEnvironment PermitUserRC PerSourceMaxStartups PerSourceNetBlockSize PidFile Port PrintLastLog PrintMotd
PubkeyAcceptedAlgorithms PubkeyAcceptedKeyTypes PubkeyAuthentication PubkeyAuthOptions RDomain RekeyLimit
RequiredRSASize RevokedKeys SecurityKeyProvider SetEnv StreamLocalBindMask StreamLocalBindUnlink StrictModes
Subsystem SyslogFacility TCPKeepAlive TrustedUserCAKeys UnusedConnectionTimeout UseDNS UsePAM VersionAddendum
X11DisplayOffset X11Forwarding X11UseLocalhost XAuthLocation`) {
		m[strings.ToLower(k)] = true
	}
	return m
}()

func (ps *parser) sSHDCheck(n *yaml.Node, p string) *SSHDCheck {
	fields := ps.fields(n, p, append([]string{"key", "match"}, valueTestKeys...))
	if fields == nil {
		return nil
	}
	c := &SSHDCheck{Key: ps.requiredIn(n, fields, "key", p), Match: "global"}
	switch {
	case c.Key == "":
	case !sshdKeyRE.MatchString(c.Key):
		ps.add(ps.deref(fields["key"]), p+".key", "%q is not an sshd_config keyword like PermitRootLogin", c.Key)
	case !sshdKeywords[strings.ToLower(c.Key)] && !strings.EqualFold(c.Key, "Match") && !strings.EqualFold(c.Key, "Include"):
		ps.add(ps.deref(fields["key"]), p+".key", "%q is not a keyword of OpenSSH 9.2's sshd_config (misspelt?)", c.Key)
	}
	if strings.EqualFold(c.Key, "Match") || strings.EqualFold(c.Key, "Include") {
		ps.add(ps.deref(fields["key"]), p+".key", "%s is a directive the leaf follows, not a setting to judge", c.Key)
	}
	if v := fields["match"]; v != nil {
		if s, ok := ps.str(v, p+".match"); ok {
			if s != "global" && s != "all" {
				ps.add(ps.deref(v), p+".match", "%q is not global or all", s)
			}
			c.Match = s
		}
	}
	c.ValueTest = ps.valueTest(fields, p)
	if c.ValueTest.Empty() {
		ps.add(ps.deref(n), p, "needs at least one of %s", strings.Join(valueTestKeys, ", "))
	}
	return c
}

// sshdAliases maps deprecated keywords to the one sshd stores them as.
var sshdAliases = map[string]string{
	"challengeresponseauthentication": "kbdinteractiveauthentication",
}

// sshdMulti are the keywords whose values accumulate over every line that
// sets them (sshd_config(5)); every other keyword keeps its first value.
var sshdMulti = map[string]bool{
	"acceptenv": true, "allowgroups": true, "allowusers": true, "denygroups": true, "denyusers": true,
	"hostkey": true, "hostcertificate": true, "listenaddress": true, "port": true, "subsystem": true,
}

// sshdTimeKeys take sshd's time format; the leaf compares them in seconds.
var sshdTimeKeys = map[string]bool{"logingracetime": true, "clientaliveinterval": true}

// sshdUpperKeys are compared upper case (sshd reads them case-insensitively).
var sshdUpperKeys = map[string]bool{"loglevel": true, "syslogfacility": true}

// sshdLowerKeys take keyword values sshd reads case-insensitively
// (yes/no and the like); the leaf compares them lower case.
var sshdLowerKeys = map[string]bool{
	"permitrootlogin": true, "permitemptypasswords": true, "hostbasedauthentication": true, "ignorerhosts": true,
	"permituserenvironment": true, "usepam": true, "x11forwarding": true, "passwordauthentication": true,
	"kbdinteractiveauthentication": true, "pubkeyauthentication": true, "gssapiauthentication": true,
	"kerberosauthentication": true, "allowtcpforwarding": true, "allowagentforwarding": true,
	"allowstreamlocalforwarding": true, "permittunnel": true, "compression": true, "tcpkeepalive": true,
	"usedns": true, "strictmodes": true, "printmotd": true, "printlastlog": true, "disableforwarding": true,
	"gatewayports": true, "permittty": true, "x11uselocalhost": true, "ignoreuserknownhosts": true,
	"permitlisten": true, "permitopen": true, "exposeauthinfo": true, "fingerprinthash": true,
}

// sshdDefaults are OpenSSH 9.2p1's compiled-in values (Debian 12's
// sshd), by lower-case keyword, for keywords a file leaves unset.
var sshdDefaults = map[string]string{
	"permitrootlogin":              "prohibit-password",
	"maxauthtries":                 "6",
	"logingracetime":               "120",
	"clientaliveinterval":          "0",
	"clientalivecountmax":          "3",
	"maxstartups":                  "10:30:100",
	"maxsessions":                  "10",
	"loglevel":                     "INFO",
	"syslogfacility":               "AUTH",
	"permitemptypasswords":         "no",
	"hostbasedauthentication":      "no",
	"ignorerhosts":                 "yes",
	"ignoreuserknownhosts":         "no",
	"permituserenvironment":        "no",
	"usepam":                       "no",
	"x11forwarding":                "no",
	"x11uselocalhost":              "yes",
	"banner":                       "none",
	"passwordauthentication":       "yes",
	"kbdinteractiveauthentication": "yes",
	"pubkeyauthentication":         "yes",
	"gssapiauthentication":         "no",
	"kerberosauthentication":       "no",
	"allowtcpforwarding":           "yes",
	"allowagentforwarding":         "yes",
	"allowstreamlocalforwarding":   "yes",
	"disableforwarding":            "no",
	"gatewayports":                 "no",
	"permittunnel":                 "no",
	"permittty":                    "yes",
	"strictmodes":                  "yes",
	"tcpkeepalive":                 "yes",
	"usedns":                       "no",
	"printmotd":                    "yes",
	"printlastlog":                 "yes",
	"compression":                  "yes",
	"port":                         "22",
	"ciphers":                      "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
	"macs":                         "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
	"kexalgorithms":                "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
}

// sshdAlgoKeys take algorithm lists that may start with "+" (append to
// the default), "-" (remove from it) or "^" (put in front of it).
var sshdAlgoKeys = map[string]bool{"ciphers": true, "macs": true, "kexalgorithms": true}

// sshdEntry is one line setting a keyword.
type sshdEntry struct {
	key   string // lower case, aliases resolved
	args  []string
	file  string
	line  int
	match string // "" outside Match blocks, else the Match line's criteria
	mfile string // where the Match line is
	mline int
}

// sshdArgs splits a line into words as sshd's argument splitter does:
// blanks separate words, double or single quotes group a word (without
// the quotes), a backslash escapes a quote or backslash, and a '#' at the
// start of a word begins a comment. ok is false for an unterminated
// quote.
func sshdArgs(s string) (words []string, ok bool) {
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) || s[i] == '#' {
			return words, true
		}
		var w strings.Builder
		var quote byte
		for i < len(s) {
			ch := s[i]
			if quote == 0 && (ch == ' ' || ch == '\t') {
				break
			}
			switch {
			case ch == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'' || s[i+1] == '\\'):
				w.WriteByte(s[i+1])
				i += 2
				continue
			case quote == 0 && (ch == '"' || ch == '\''):
				quote = ch
			case quote != 0 && ch == quote:
				quote = 0
			default:
				w.WriteByte(ch)
			}
			i++
		}
		if quote != 0 {
			return nil, false
		}
		words = append(words, w.String())
	}
}

// sshdConfig collects every line of the configuration in order.
type sshdConfig struct {
	ctx      context.Context
	env      Env
	entries  []sshdEntry
	problems []string
}

// load reads file in place. match, mfile and mline are the Match block
// the Include stood in ("" at top level): an included file's lines
// belong to it, and a Match line inside an included file lasts only to
// that file's end, as in sshd.
func (sc *sshdConfig) load(file string, chain []string, match, mfile string, mline int) error {
	for _, f := range chain {
		if f == file {
			return fmt.Errorf("sshd Include loop: %s -> %s", strings.Join(chain, " -> "), file)
		}
	}
	if len(chain) > sshdMaxDepth {
		return fmt.Errorf("sshd Include nested more than %d deep at %s", sshdMaxDepth, file)
	}
	data, found, err := readAccountFile(sc.ctx, sc.env, file)
	if err != nil {
		return err
	}
	if !found {
		if len(chain) == 0 {
			return nil
		}
		sc.problems = append(sc.problems, fmt.Sprintf("%s does not exist", file))
		return nil
	}
	chain = append(chain, file)
	for i, raw := range strings.Split(string(data), "\n") {
		where := fmt.Sprintf("%s:%d", file, i+1)
		line := strings.TrimRight(raw, "\r")
		// "Keyword=value" and "Keyword = value" are accepted: the first
		// '=' after the keyword separates it like a blank.
		trimmed := strings.TrimLeft(line, " \t")
		if k := strings.IndexAny(trimmed, " \t="); k > 0 {
			rest := strings.TrimLeft(trimmed[k:], " \t")
			rest = strings.TrimPrefix(rest, "=")
			trimmed = trimmed[:k] + " " + rest
		}
		words, ok := sshdArgs(trimmed)
		if !ok {
			sc.problems = append(sc.problems, where+": unterminated quote, line skipped")
			continue
		}
		if len(words) == 0 {
			continue
		}
		key := strings.ToLower(words[0])
		switch key {
		case "match":
			match, mfile, mline = strings.Join(words[1:], " "), file, i+1
			if match == "" { // sshd refuses this; keep it a block
				match = "(no criteria)"
			}
			continue
		case "include":
			for _, pat := range words[1:] {
				if !strings.HasPrefix(pat, "/") {
					pat = path.Join(sshdDir, pat)
				}
				paths, err := sc.env.Glob(sc.ctx, pat)
				if err != nil {
					sc.problems = append(sc.problems, fmt.Sprintf("%s: Include %s: %v", where, pat, err))
					continue
				}
				// Glob returns paths sorted: sshd reads them in that
				// lexical order.
				for _, p := range paths {
					if err := sc.load(p, chain, match, mfile, mline); err != nil {
						return err
					}
				}
			}
			continue
		}
		if a, ok := sshdAliases[key]; ok {
			key = a
		}
		sc.entries = append(sc.entries, sshdEntry{key: key, args: words[1:], file: file, line: i + 1, match: match, mfile: mfile, mline: mline})
	}
	return nil
}

// sshdTime converts sshd's time format ("90", "1m30s", "2h") to seconds.
func sshdTime(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	total, num := int64(0), ""
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= '0' && ch <= '9' {
			num += string(ch)
			continue
		}
		if num == "" {
			return "", false
		}
		n, _ := strconv.ParseInt(num, 10, 64)
		mult := map[byte]int64{'s': 1, 'S': 1, 'm': 60, 'M': 60, 'h': 3600, 'H': 3600, 'd': 86400, 'D': 86400, 'w': 604800, 'W': 604800}[ch]
		if mult == 0 {
			return "", false
		}
		total += n * mult
		num = ""
	}
	if num != "" {
		n, _ := strconv.ParseInt(num, 10, 64)
		total += n
	}
	return strconv.FormatInt(total, 10), true
}

// sshdSupported are the algorithms OpenSSH 9.2p1 supports (`ssh -Q cipher`,
// `ssh -Q mac`, `ssh -Q kex`), in its own order: the set that patterns in
// a configured list are expanded against.
var sshdSupported = map[string][]string{
	"ciphers": strings.Split("3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,"+
		"aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com", ","),
	"macs": strings.Split("hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,"+
		"umac-64@openssh.com,umac-128@openssh.com,hmac-sha1-etm@openssh.com,hmac-sha1-96-etm@openssh.com,"+
		"hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-md5-etm@openssh.com,"+
		"hmac-md5-96-etm@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com", ","),
	"kexalgorithms": strings.Split("diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,"+
		"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha1,"+
		"diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"+
		"curve25519-sha256,curve25519-sha256@libssh.org,sntrup761x25519-sha512@openssh.com", ","),
}

// sshdAlgoList computes the effective algorithm list of key as sshd
// assembles it: "+list" appends to the default, "^list" puts the list in
// front of it, "-list" removes what its patterns match from it; then
// (except for "-") every entry, a name or a wildcard pattern, is expanded
// against the supported algorithms in their order, and duplicates are
// dropped, keeping the first.
func sshdAlgoList(key, v string) string {
	def := sshdDefaults[key]
	if v == "" || def == "" {
		return v
	}
	var list string
	switch v[0] {
	case '+':
		list = def + "," + v[1:]
	case '^':
		list = v[1:] + "," + def
	case '-':
		var kept []string
		for _, a := range strings.Split(def, ",") {
			if !sshdPatternsMatch(v[1:], a) {
				kept = append(kept, a)
			}
		}
		return strings.Join(kept, ",")
	default:
		list = v
	}
	supported := sshdSupported[key]
	seen := map[string]bool{}
	var out []string
	for _, pat := range strings.Split(list, ",") {
		for _, a := range supported {
			if !seen[a] && sshdPatternsMatch(pat, a) {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return strings.Join(out, ",")
}

// sshdPatternsMatch reports whether a matches one of the comma-separated
// wildcard patterns (* and ?, as sshd's match_pattern_list).
func sshdPatternsMatch(patterns, a string) bool {
	for _, p := range strings.Split(patterns, ",") {
		if ok, _ := path.Match(p, a); ok {
			return true
		}
	}
	return false
}

// sshdValue computes the value of key from entries (all of one scope, in
// file order): the first line's for most keywords, every line's for the
// accumulating ones. It returns nil when no entry sets it.
func sshdValue(key string, entries []sshdEntry) (*string, []sshdEntry) {
	var used []sshdEntry
	var parts []string
	for _, e := range entries {
		if e.key != key {
			continue
		}
		used = append(used, e)
		parts = append(parts, strings.Join(e.args, " "))
		if !sshdMulti[key] {
			break
		}
	}
	if used == nil {
		return nil, nil
	}
	v := strings.Join(parts, " ")
	switch {
	case sshdTimeKeys[key]:
		if s, ok := sshdTime(v); ok {
			v = s
		}
	case sshdLowerKeys[key]:
		v = strings.ToLower(v)
		if key == "permitrootlogin" && v == "without-password" {
			v = "prohibit-password"
		}
	case sshdUpperKeys[key]:
		v = strings.ToUpper(v)
	case sshdAlgoKeys[key]:
		v = sshdAlgoList(key, v)
	}
	return &v, used
}

func sshdWhere(used []sshdEntry) string {
	var w []string
	for _, e := range used {
		w = append(w, fmt.Sprintf("%s:%d", e.file, e.line))
	}
	return strings.Join(w, ", ")
}

func sSHDLeaf(ctx context.Context, env Env, c *SSHDCheck) (bool, string, error) {
	sc := &sshdConfig{ctx: ctx, env: env}
	if _, err := env.Stat(ctx, sshdConfigPath); err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, sshdConfigPath + " does not exist", nil
		}
		return false, "", fmt.Errorf("stat %s: %w", sshdConfigPath, err)
	}
	if err := sc.load(sshdConfigPath, nil, "", "", 0); err != nil {
		return false, "", err
	}
	key := strings.ToLower(c.Key)
	if a, ok := sshdAliases[key]; ok {
		key = a
	}
	var global []sshdEntry
	blocks := map[string][]sshdEntry{} // Match block (by its line) -> entries
	var order []string
	for _, e := range sc.entries {
		if e.match == "" {
			global = append(global, e)
			continue
		}
		id := fmt.Sprintf("%s:%d", e.mfile, e.mline)
		if _, ok := blocks[id]; !ok {
			order = append(order, id)
		}
		blocks[id] = append(blocks[id], e)
	}
	val, used := sshdValue(key, global)
	from := "from " + sshdWhere(used)
	if val == nil {
		if d, ok := sshdDefaults[key]; ok {
			val, from = &d, "(default)"
		} else {
			from = "(not set, no known default)"
		}
	}
	ok, detail, err := c.ValueTest.Test(ctx, val)
	if err != nil {
		return false, "", err
	}
	parts := []string{fmt.Sprintf("%s %s %s", c.Key, detail, from)}
	for _, id := range order {
		mv, mused := sshdValue(key, blocks[id])
		if mv == nil {
			continue
		}
		e := mused[0]
		if c.Match == "all" {
			mok, md, err := c.ValueTest.Test(ctx, mv)
			if err != nil {
				return false, "", err
			}
			ok = ok && mok
			parts = append(parts, fmt.Sprintf("Match %s (%s) sets %s from %s", e.match, id, md, sshdWhere(mused)))
		} else {
			parts = append(parts, fmt.Sprintf("Match %s (%s) sets %q from %s, not judged", e.match, id, *mv, sshdWhere(mused)))
		}
	}
	if len(sc.problems) > 0 {
		parts = append(parts, strings.Join(sc.problems, "; "))
	}
	return ok, strings.Join(parts, "; "), nil
}
