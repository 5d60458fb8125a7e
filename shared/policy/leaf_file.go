package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// fileLeaf tests the files path's glob matches.
//
//   - exists: true passes when something matches; exists: false when
//     nothing does.
//   - Any other key with nothing matching fails ("no file matches"): a
//     check that names a file expects it to be there. Write
//     any: [{file: {path, exists: false}}, {file: {...}}] to accept absence.
//   - matches passes when at least one matched file has a match;
//     not_matches when none has; mode_max, owner, group, bits_set,
//     bits_clear, suid, sgid, sticky and type must hold for every matched
//     file.
//   - type: symlink looks at the matched path itself (LinkEnv.Lstat), so a
//     dangling link exists for it; every other key follows links.
func fileLeaf(ctx context.Context, env Env, c *FileCheck) (bool, string, error) {
	paths, err := env.Glob(ctx, c.Path)
	if err != nil {
		return false, "", fmt.Errorf("glob %s: %w", c.Path, err)
	}
	if len(paths) > MaxGlobFiles {
		return false, "", fmt.Errorf("%s matches %d files, more than %d", c.Path, len(paths), MaxGlobFiles)
	}
	var lstats []FileStat
	if c.Type == "symlink" {
		le, ok := env.(LinkEnv)
		if !ok {
			return false, "", fmt.Errorf("type: symlink: symbolic links cannot be examined: %w", ErrUnavailable)
		}
		if paths, lstats, err = lstatAll(ctx, le, paths); err != nil {
			return false, "", err
		}
	}
	var stats []FileStat
	if c.Type == "symlink" {
		stats, err = statLinks(ctx, env, paths)
	} else {
		paths, stats, err = statAll(ctx, env, paths)
	}
	if err != nil {
		return false, "", err
	}
	if c.Exists != nil && !*c.Exists {
		if len(paths) == 0 {
			return true, fmt.Sprintf("no file matches %s", c.Path), nil
		}
		return false, "exists: " + listPaths(paths), nil
	}
	if len(paths) == 0 {
		return false, fmt.Sprintf("no file matches %s", c.Path), nil
	}
	fc := fileChecker{env: env, c: c, lstats: lstats}
	if err := fc.run(ctx, paths, stats); err != nil {
		return false, strings.Join(fc.failed, "; "), err
	}
	if len(fc.failed) > 0 {
		return false, strings.Join(fc.failed, "; "), nil
	}
	if len(fc.passed) == 0 {
		fc.passed = append(fc.passed, "exists: "+listPaths(paths))
	}
	return true, strings.Join(fc.passed, "; "), nil
}

// statAll describes every path, leaving out those that vanished since the
// glob or are dangling symbolic links: neither is a file that exists.
func statAll(ctx context.Context, env Env, paths []string) ([]string, []FileStat, error) {
	kept := paths[:0:0]
	var stats []FileStat
	for _, p := range paths {
		st, err := env.Stat(ctx, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("stat %s: %w", p, err)
		}
		kept = append(kept, p)
		stats = append(stats, st)
	}
	return kept, stats, nil
}

// lstatAll describes every path without following a final symbolic link,
// leaving out those that vanished since the glob.
func lstatAll(ctx context.Context, env LinkEnv, paths []string) ([]string, []FileStat, error) {
	kept := paths[:0:0]
	var stats []FileStat
	for _, p := range paths {
		st, err := env.Lstat(ctx, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("lstat %s: %w", p, err)
		}
		kept = append(kept, p)
		stats = append(stats, st)
	}
	return kept, stats, nil
}

// statLinks follows each path that lstatAll kept. A dangling link gets a
// FileStat with danglingMode, which the checks that need a target report
// as dangling.
func statLinks(ctx context.Context, env Env, paths []string) ([]FileStat, error) {
	stats := make([]FileStat, len(paths))
	for i, p := range paths {
		st, err := env.Stat(ctx, p)
		switch {
		case errors.Is(err, ErrNotFound):
			stats[i] = FileStat{Mode: danglingMode}
		case err != nil:
			return nil, fmt.Errorf("stat %s: %w", p, err)
		default:
			stats[i] = st
		}
	}
	return stats, nil
}

// danglingMode marks the FileStat of a symbolic link whose target does not
// exist: no real file has ModeIrregular with ModeSymlink after Stat.
const danglingMode = fs.ModeSymlink | fs.ModeIrregular

// fileChecker collects what each test saw: failures first in evidence,
// because they are what an admin has to fix.
type fileChecker struct {
	env            Env
	c              *FileCheck
	lstats         []FileStat // with type: symlink, the paths themselves
	failed, passed []string
}

func (fc *fileChecker) run(ctx context.Context, paths []string, stats []FileStat) error {
	if fc.c.Type != "" {
		fc.fileType(paths, stats)
	}
	// The remaining keys judge a link's target: a dangling link has none.
	if fc.needsTarget() {
		var live []string
		var liveStats []FileStat
		for i, p := range paths {
			if stats[i].Mode == danglingMode {
				fc.failed = append(fc.failed, p+": dangling symbolic link")
				continue
			}
			live = append(live, p)
			liveStats = append(liveStats, stats[i])
		}
		paths, stats = live, liveStats
	}
	if fc.c.Matches != "" || fc.c.NotMatches != "" {
		if err := fc.content(ctx, paths, stats); err != nil {
			return err
		}
	}
	if fc.c.ModeMax != "" {
		if err := fc.mode(paths, stats); err != nil {
			return err
		}
	}
	if err := fc.bits(paths, stats); err != nil {
		return err
	}
	if names := allowed(fc.c.Owner, fc.c.Owners); len(names) > 0 {
		fc.owner(paths, stats, names)
	}
	if names := allowed(fc.c.Group, fc.c.Groups); len(names) > 0 {
		if err := fc.group(paths, stats, names); err != nil {
			return err
		}
	}
	return nil
}

// needsTarget reports whether any key besides exists and type is given.
func (fc *fileChecker) needsTarget() bool {
	c := fc.c
	return c.Matches != "" || c.NotMatches != "" || c.ModeMax != "" || c.BitsSet != "" || c.BitsClear != "" ||
		c.SUID != nil || c.SGID != nil || c.Sticky != nil || len(allowed(c.Owner, c.Owners)) > 0 ||
		len(allowed(c.Group, c.Groups)) > 0
}

// allowed is the list of names an owner or group key allows.
func allowed(one string, many []string) []string {
	if len(many) > 0 {
		return many
	}
	if one != "" {
		return []string{one}
	}
	return nil
}

// fileType checks type: file and dir judge what Stat saw (a link to a
// directory is a directory, as test -d says), symlink what Lstat saw.
func (fc *fileChecker) fileType(paths []string, stats []FileStat) {
	for i, p := range paths {
		var got string
		if fc.c.Type == "symlink" {
			got = typeName(fc.lstats[i].Mode)
		} else {
			got = typeName(stats[i].Mode)
		}
		if got == fc.c.Type {
			fc.passed = append(fc.passed, fmt.Sprintf("%s: type %s", p, got))
		} else {
			fc.failed = append(fc.failed, fmt.Sprintf("%s: type %s, want %s", p, got, fc.c.Type))
		}
	}
}

// typeName names a file's type as the type key spells it.
func typeName(m fs.FileMode) string {
	switch {
	case m == danglingMode:
		return "dangling symlink"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "dir"
	case m.IsRegular():
		return "file"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "char device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "other"
}

// bits checks bits_set, bits_clear, suid, sgid and sticky.
func (fc *fileChecker) bits(paths []string, stats []FileStat) error {
	c := fc.c
	if c.BitsSet == "" && c.BitsClear == "" && c.SUID == nil && c.SGID == nil && c.Sticky == nil {
		return nil
	}
	var set, clear uint32
	var err error
	if c.BitsSet != "" {
		if set, err = ParseMode(c.BitsSet); err != nil {
			return fmt.Errorf("bits_set: %w", err)
		}
	}
	if c.BitsClear != "" {
		if clear, err = ParseMode(c.BitsClear); err != nil {
			return fmt.Errorf("bits_clear: %w", err)
		}
	}
	flags := []struct {
		name string
		want *bool
		bit  uint32
	}{{"suid", c.SUID, 0o4000}, {"sgid", c.SGID, 0o2000}, {"sticky", c.Sticky, 0o1000}}
	for i, p := range paths {
		if !stats[i].HasPerm {
			return fmt.Errorf("%s: file permissions are not available on this platform", p)
		}
		perm := UnixPerm(stats[i].Mode)
		var bad []string
		if missing := set &^ perm; missing != 0 {
			bad = append(bad, fmt.Sprintf("lacks bits %04o", missing))
		}
		if extra := perm & clear; extra != 0 {
			bad = append(bad, fmt.Sprintf("has bits %04o", extra))
		}
		for _, f := range flags {
			switch has := perm&f.bit != 0; {
			case f.want == nil:
			case *f.want && !has:
				bad = append(bad, "lacks "+f.name)
			case !*f.want && has:
				bad = append(bad, "has "+f.name)
			}
		}
		if len(bad) > 0 {
			fc.failed = append(fc.failed, fmt.Sprintf("%s: mode %04o %s", p, perm, strings.Join(bad, ", ")))
		} else {
			fc.passed = append(fc.passed, fmt.Sprintf("%s: mode %04o", p, perm))
		}
	}
	return nil
}

// content runs matches and not_matches over the regular files.
func (fc *fileChecker) content(ctx context.Context, paths []string, stats []FileStat) error {
	var matches, notMatches *regexp.Regexp
	var err error
	if fc.c.Matches != "" {
		if matches, err = regexp.Compile(fc.c.Matches); err != nil {
			return fmt.Errorf("matches: %w", err)
		}
	}
	if fc.c.NotMatches != "" {
		if notMatches, err = regexp.Compile(fc.c.NotMatches); err != nil {
			return fmt.Errorf("not_matches: %w", err)
		}
	}
	found, offended := "", false
	var read, skipped []string
	for i, p := range paths {
		if !stats[i].Mode.IsRegular() {
			skipped = append(skipped, p)
			continue
		}
		data, err := fc.env.ReadFile(ctx, p, MaxFileBytes)
		if errors.Is(err, ErrNotFound) {
			// Gone since it was listed (a process's /proc entry): like
			// statAll, a file that no longer exists is not judged.
			continue
		}
		if err != nil {
			if errors.Is(err, ErrFileTooLarge) {
				return fmt.Errorf("%s: file too large (over %d bytes)", p, MaxFileBytes)
			}
			return fmt.Errorf("read %s: %w", p, err)
		}
		read = append(read, p)
		quote := mayQuote(fc.env, ContentFile, p, data)
		if matches != nil && found == "" {
			if loc := matches.FindIndex(data); loc != nil {
				found = fmt.Sprintf("%s matches", fileLine(p, data, loc[0], quote))
			}
		}
		if notMatches != nil {
			if loc := notMatches.FindIndex(data); loc != nil {
				offended = true
				fc.failed = append(fc.failed, fmt.Sprintf("%s matches not_matches %s", fileLine(p, data, loc[0], quote), notMatches))
			}
		}
	}
	if len(read) == 0 {
		fc.failed = append(fc.failed, "no regular file among "+listPaths(skipped))
		return nil
	}
	if matches != nil {
		if found != "" {
			fc.passed = append(fc.passed, found)
		} else {
			fc.failed = append(fc.failed, fmt.Sprintf("no line matches %s in %s", matches, listPaths(read)))
		}
	}
	if notMatches != nil && !offended {
		fc.passed = append(fc.passed, fmt.Sprintf("no line matches %s in %s", notMatches, listPaths(read)))
	}
	return nil
}

// fileLine names the line of file p holding byte offset off: with its
// text when quote ("/etc/x:12: \"text\""), else by number only
// ("/etc/x line 12").
func fileLine(p string, data []byte, off int, quote bool) string {
	if quote {
		return p + ":" + lineAt(data, off)
	}
	return fmt.Sprintf("%s line %d", p, lineNumber(data, off))
}

// lineNumber is the 1-based number of the line holding byte offset off.
func lineNumber(data []byte, off int) int {
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return 1 + bytes.Count(data[:start], []byte("\n"))
}

// lineAt describes the line holding byte offset off: "12: \"text\"".
func lineAt(data []byte, off int) string {
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	end := bytes.IndexByte(data[off:], '\n')
	if end < 0 {
		end = len(data)
	} else {
		end += off
	}
	return fmt.Sprintf("%d: %s", lineNumber(data, off), quoteLine(data[start:end]))
}

func (fc *fileChecker) mode(paths []string, stats []FileStat) error {
	limit, err := ParseMode(fc.c.ModeMax)
	if err != nil {
		return fmt.Errorf("mode_max: %w", err)
	}
	for i, p := range paths {
		if !stats[i].HasPerm {
			return fmt.Errorf("%s: file permissions are not available on this platform", p)
		}
		perm := UnixPerm(stats[i].Mode)
		if extra := perm &^ limit; extra != 0 {
			fc.failed = append(fc.failed, fmt.Sprintf("%s: mode %04o exceeds mode_max %04o (extra bits %04o)", p, perm, limit, extra))
		} else {
			fc.passed = append(fc.passed, fmt.Sprintf("%s: mode %04o within %04o", p, perm, limit))
		}
	}
	return nil
}

// UnixPerm returns m's permission bits in Unix octal form, with setuid
// (04000), setgid (02000) and sticky (01000).
func UnixPerm(m fs.FileMode) uint32 {
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	return perm
}

func (fc *fileChecker) owner(paths []string, stats []FileStat, names []string) {
	for i, p := range paths {
		st := stats[i]
		shown := st.Owner
		if shown == "" {
			shown = "uid " + st.OwnerID
		}
		ok := false
		for _, n := range names {
			ok = ok || ownerIs(st, n)
		}
		if ok {
			fc.passed = append(fc.passed, fmt.Sprintf("%s: owner %s", p, shown))
		} else {
			fc.failed = append(fc.failed, fmt.Sprintf("%s: owner %s, want %s", p, shown, strings.Join(names, " or ")))
		}
	}
}

// group checks that every file's group is one of names: a group name, or
// the numeric gid.
func (fc *fileChecker) group(paths []string, stats []FileStat, names []string) error {
	for i, p := range paths {
		st := stats[i]
		if st.GroupID == "" && st.Group == "" {
			return fmt.Errorf("%s: file groups are not available on this platform", p)
		}
		shown := st.Group
		if shown == "" {
			shown = "gid " + st.GroupID
		}
		ok := false
		for _, n := range names {
			ok = ok || n == st.GroupID || (st.Group != "" && n == st.Group)
		}
		if ok {
			fc.passed = append(fc.passed, fmt.Sprintf("%s: group %s", p, shown))
		} else {
			fc.failed = append(fc.failed, fmt.Sprintf("%s: group %s, want %s", p, shown, strings.Join(names, " or ")))
		}
	}
	return nil
}

// MarshalJSON writes owner and group as one name (Owner, Group) or a list
// (Owners, Groups), the same shapes a policy file gives, so that a set
// sent to agents validates as the file did.
func (f FileCheck) MarshalJSON() ([]byte, error) {
	type plain FileCheck
	out := struct {
		plain
		Owner any `json:"owner,omitempty"`
		Group any `json:"group,omitempty"`
	}{plain: plain(f)}
	out.Owner = oneOrMany(f.Owner, f.Owners)
	out.Group = oneOrMany(f.Group, f.Groups)
	return json.Marshal(out)
}

func oneOrMany(one string, many []string) any {
	if len(many) > 0 {
		return many
	}
	if one != "" {
		return one
	}
	return nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *FileCheck) UnmarshalJSON(data []byte) error {
	type plain FileCheck
	var in struct {
		plain
		Owner json.RawMessage `json:"owner,omitempty"`
		Group json.RawMessage `json:"group,omitempty"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*f = FileCheck(in.plain)
	var err error
	if f.Owner, f.Owners, err = decodeNames(in.Owner); err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	if f.Group, f.Groups, err = decodeNames(in.Group); err != nil {
		return fmt.Errorf("group: %w", err)
	}
	return nil
}

// decodeNames reads a JSON string or list of strings.
func decodeNames(raw json.RawMessage) (string, []string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return "", nil, nil
	}
	if t[0] == '[' {
		var many []string
		err := json.Unmarshal(t, &many)
		return "", many, err
	}
	var one string
	err := json.Unmarshal(t, &one)
	return one, nil, err
}

// ownerIs accepts the account name, the numeric id, and on Windows the
// name without its domain, case-insensitively ("BUILTIN\Administrators").
func ownerIs(st FileStat, want string) bool {
	if want == "" {
		return false
	}
	if want == st.OwnerID || want == st.Owner {
		return true
	}
	if st.Owner == "" || !strings.Contains(st.Owner, `\`) {
		return false
	}
	if strings.EqualFold(want, st.Owner) {
		return true
	}
	_, name, _ := strings.Cut(st.Owner, `\`)
	return strings.EqualFold(want, name)
}

// listPaths names up to five paths and counts the rest.
func listPaths(paths []string) string {
	if len(paths) <= 5 {
		return strings.Join(paths, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(paths[:5], ", "), len(paths)-5)
}
