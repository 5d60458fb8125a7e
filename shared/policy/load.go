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
	ps, _, err := LoadWithSources(paths)
	return ps, err
}

// LoadWithSources is Load that also maps each policy id to the file it
// came from (as found under paths), for reports that group by file.
func LoadWithSources(paths []string) ([]Policy, map[string]string, error) {
	if len(paths) == 0 {
		return nil, nil, &ValidationError{Problems: []Problem{{Message: "no policy files given"}}}
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
	var named []NamedFile
	for _, f := range files {
		data, err := readPolicyFile(f)
		if err != nil {
			problems = append(problems, Problem{File: f, Message: err.Error()})
			continue
		}
		named = append(named, NamedFile{Name: f, Data: data})
	}
	perFile, probs := parseSet(named)
	problems = append(problems, probs...)
	if len(problems) > 0 {
		return nil, nil, &ValidationError{Problems: problems}
	}
	var all []Policy
	sources := map[string]string{}
	for i, ps := range perFile {
		all = append(all, ps...)
		for _, p := range ps {
			sources[p.ID] = named[i].Name
		}
	}
	return all, sources, nil
}

// NamedFile is one policy file's name, as problems report it, and
// content.
type NamedFile struct {
	Name string
	Data []byte
}

// ParseFiles parses several policy files as one set, by the rules of
// Load: ids must be unique across all of them, and any problem in any
// file rejects them all (nil and a *ValidationError listing every
// problem). It returns each file's policies, in the order of files.
func ParseFiles(files []NamedFile) ([][]Policy, error) {
	perFile, problems := parseSet(files)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return perFile, nil
}

func parseSet(files []NamedFile) ([][]Policy, []Problem) {
	var problems []Problem
	perFile := make([][]Policy, len(files))
	where := map[string]string{}
	for fi, f := range files {
		ps, lines, probs := parseFile(f.Name, f.Data)
		problems = append(problems, probs...)
		for i, p := range ps {
			loc := fmt.Sprintf("%s:%d", f.Name, lines[i])
			if first, dup := where[p.ID]; dup {
				problems = append(problems, Problem{File: f.Name, Line: lines[i], Policy: p.ID, Field: "id",
					Message: "duplicate id (first defined at " + first + ")"})
				continue
			}
			where[p.ID] = loc
			perFile[fi] = append(perFile[fi], p)
		}
	}
	return perFile, problems
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
		// A pack's testdata directory holds its test fixtures, which are
		// YAML too but not policies.
		fixtures := path != p && d.IsDir() && d.Name() == "testdata"
		switch {
		case d.IsDir() && (hidden || fixtures):
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
