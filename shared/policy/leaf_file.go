package policy

import (
	"bytes"
	"context"
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
//     not_matches when none has; mode_max and owner must hold for every
//     matched file.
func fileLeaf(ctx context.Context, env Env, c *FileCheck) (bool, string, error) {
	paths, err := env.Glob(ctx, c.Path)
	if err != nil {
		return false, "", fmt.Errorf("glob %s: %w", c.Path, err)
	}
	if len(paths) > MaxGlobFiles {
		return false, "", fmt.Errorf("%s matches %d files, more than %d", c.Path, len(paths), MaxGlobFiles)
	}
	paths, stats, err := statAll(ctx, env, paths)
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
	fc := fileChecker{env: env, c: c}
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

// fileChecker collects what each test saw: failures first in evidence,
// because they are what an admin has to fix.
type fileChecker struct {
	env            Env
	c              *FileCheck
	failed, passed []string
}

func (fc *fileChecker) run(ctx context.Context, paths []string, stats []FileStat) error {
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
	if fc.c.Owner != "" {
		fc.owner(paths, stats)
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

func (fc *fileChecker) owner(paths []string, stats []FileStat) {
	for i, p := range paths {
		st := stats[i]
		shown := st.Owner
		if shown == "" {
			shown = "uid " + st.OwnerID
		}
		if ownerIs(st, fc.c.Owner) {
			fc.passed = append(fc.passed, fmt.Sprintf("%s: owner %s", p, shown))
		} else {
			fc.failed = append(fc.failed, fmt.Sprintf("%s: owner %s, want %s", p, shown, fc.c.Owner))
		}
	}
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
