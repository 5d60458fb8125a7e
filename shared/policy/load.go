package policy

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Load parses policy files and directories: every *.yaml, *.yml and
// *.json beneath a directory (hidden files and directories skipped), or a
// file named directly whatever its extension. Ids must be unique across
// all of them. Any problem in any file rejects the whole set: the result
// is nil and a *ValidationError listing every problem.
func Load(paths []string) ([]Policy, error) {
	if len(paths) == 0 {
		return nil, &ValidationError{Problems: []Problem{{Message: "no policy files given"}}}
	}
	var files []string
	var problems []Problem
	for _, p := range paths {
		found, err := policyFiles(p)
		if err != nil {
			problems = append(problems, Problem{File: p, Message: err.Error()})
		}
		files = append(files, found...)
	}
	var all []Policy
	where := map[string]string{}
	for _, f := range files {
		data, err := readPolicyFile(f)
		if err != nil {
			problems = append(problems, Problem{File: f, Message: err.Error()})
			continue
		}
		ps, lines, probs := parseFile(f, data)
		problems = append(problems, probs...)
		for i, p := range ps {
			loc := fmt.Sprintf("%s:%d", f, lines[i])
			if first, dup := where[p.ID]; dup {
				problems = append(problems, Problem{File: f, Line: lines[i], Policy: p.ID, Field: "id",
					Message: "duplicate id (first defined at " + first + ")"})
				continue
			}
			where[p.ID] = loc
			all = append(all, p)
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return all, nil
}

// policyFiles expands one path given to Load into files, in lexical order.
func policyFiles(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := path != p && strings.HasPrefix(d.Name(), ".")
		switch {
		case d.IsDir() && hidden:
			return filepath.SkipDir
		case d.IsDir() || hidden:
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml, *.yml or *.json files in directory")
	}
	return files, nil
}

// readPolicyFile reads at most MaxFileSize+1 bytes, so that parseFile can
// refuse an oversized file without it all being in memory.
func readPolicyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}
