package service

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// isJournal reports whether w is the stream systemd connected to the
// journal: JOURNAL_STREAM holds its device and inode, which are compared
// with w's so that a stderr redirected elsewhere by a child is not taken
// for the journal.
func isJournal(w io.Writer) bool {
	return isJournalStream(w, os.Getenv("JOURNAL_STREAM"))
}

func isJournalStream(w io.Writer, env string) bool {
	f, ok := w.(*os.File)
	if !ok || env == "" {
		return false
	}
	var dev, ino uint64
	if _, err := fmt.Sscanf(env, "%d:%d", &dev, &ino); err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}
