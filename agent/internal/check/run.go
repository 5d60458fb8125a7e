package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// drainDelay is how long Run keeps reading output after the command
// exited and its process group was killed: on Windows, where only the
// process itself dies, a child it left behind may hold the pipe open.
const drainDelay = time.Second

// Run executes argv when commands are allowed. It kills the command (its
// whole process group on Unix) when ctx is done or when it prints more
// than outputLimit bytes, and once it exits kills whatever it left running
// in its group: a check must not leave processes behind.
func (e *liveEnv) Run(ctx context.Context, argv []string, outputLimit int) (policy.CommandResult, error) {
	if !e.allowCommands {
		return policy.CommandResult{}, policy.ErrCommandsDisabled
	}
	if e.root != "" {
		return policy.CommandResult{}, fmt.Errorf("%w: commands run on this machine, not on the root file system being checked (%s)", policy.ErrUnavailable, e.root)
	}
	if len(argv) == 0 {
		return policy.CommandResult{}, errors.New("empty command")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One pipe for stdout and stderr, handed to the child as a file, so
	// that Wait returns when the child exits rather than when every
	// process holding the pipe has closed it.
	r, w, err := os.Pipe()
	if err != nil {
		return policy.CommandResult{}, fmt.Errorf("pipe: %w", err)
	}
	defer r.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	setProcessGroup(cmd)
	err = cmd.Start()
	w.Close()
	if err != nil {
		return policy.CommandResult{}, err
	}
	out := &cappedBuffer{limit: outputLimit}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		if _, err := io.Copy(out, r); errors.Is(err, errOverflow) {
			cancel() // stop a flood now, not at the timeout
		}
	}()
	waitErr := cmd.Wait()
	killGroup(cmd)
	select {
	case <-drained:
	case <-time.After(drainDelay):
		r.Close()
		<-drained
	}
	res := policy.CommandResult{Output: out.bytes(), ExitCode: cmd.ProcessState.ExitCode()}
	switch {
	case out.overflowed():
		return res, fmt.Errorf("%w: more than %d bytes", policy.ErrOutputLimit, outputLimit)
	case ctx.Err() != nil:
		return res, ctx.Err()
	}
	var exit *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exit) {
		return res, waitErr
	}
	return res, nil
}

var errOverflow = errors.New("output limit reached")

// cappedBuffer keeps the first limit bytes and fails the write that
// would go past them.
type cappedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
	over  bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:max(room, 0)])
		b.over = true
		return max(room, 0), errOverflow
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *cappedBuffer) overflowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}
