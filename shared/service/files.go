package service

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"gopkg.in/yaml.v3"
)

// WriteFile puts data in path with permission bits perm, through a
// temporary file in the same directory renamed over it, so a reader never
// sees half a file. It writes nothing, and returns false, when path
// already holds data.
func WriteFile(path string, data []byte, perm fs.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name()) // after the rename this is a no-op
	// CreateTemp makes the file 0600, so the content is never readable
	// by others, even for an instant.
	if err := tmp.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, err
	}
	return true, nil
}

// EnsureMode sets path's permission bits to perm when they differ and
// reports whether it changed them. Windows files have no such bits (their
// access is the directory's ACL): it does nothing there.
func EnsureMode(path string, perm fs.FileMode) (bool, error) {
	if runtime.GOOS == "windows" {
		return false, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	if fi.Mode().Perm() == perm {
		return false, nil
	}
	return true, os.Chmod(path, perm)
}

// Setting is one top-level key of a YAML configuration file; an empty
// Value removes the key.
type Setting struct {
	Key, Value string
}

// ApplySettings returns src, a YAML document holding a mapping, with each
// setting applied: the key's value replaced, the key added at the end, or
// the key removed. Comments and every other key are kept. When every
// setting already holds, it returns src itself and false, so that a file
// is never rewritten (and reformatted) for nothing. An empty src starts a
// new document with header as its comment.
func ApplySettings(src []byte, header string, settings []Setting) ([]byte, bool, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(src)) > 0 {
		if err := yaml.Unmarshal(src, &doc); err != nil {
			return nil, false, err
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{
			{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: header},
		}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false, errors.New("not a YAML mapping of keys to values")
	}
	root := doc.Content[0]
	changed := false
	for _, s := range settings {
		i := keyIndex(root, s.Key)
		switch {
		case s.Value == "" && i >= 0:
			root.Content = append(root.Content[:i], root.Content[i+2:]...)
			changed = true
		case s.Value == "":
		case i >= 0 && sameScalar(root.Content[i+1], s.Value):
		case i >= 0:
			v := root.Content[i+1]
			*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.Value,
				LineComment: v.LineComment, HeadComment: v.HeadComment, FootComment: v.FootComment}
			changed = true
		default:
			root.Content = append(root.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.Key},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.Value})
			changed = true
		}
	}
	if !changed {
		return src, false, nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, false, fmt.Errorf("encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, false, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), true, nil
}

// keyIndex returns the index of key's key node in a mapping, or -1.
func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// sameScalar reports whether n already says v: the same text, or the same
// duration written another way ("5m" and "5m0s").
func sameScalar(n *yaml.Node, v string) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	if n.Value == v {
		return true
	}
	a, errA := time.ParseDuration(n.Value)
	b, errB := time.ParseDuration(v)
	return errA == nil && errB == nil && a == b
}
