package check

import (
	"context"
	"sync"
)

// memo holds a value an Env works out at most once in its life. An Env
// serves one evaluation (NewEnv is called for each), so what it memoises
// is shared by every policy of that evaluation and read afresh by the
// next. Concurrent callers wait for the first; a result worked out while
// the caller's context was being cancelled is returned but not kept, as
// it may describe a half-read system.
type memo[T any] struct {
	mu   sync.Mutex
	done bool
	v    T
}

// get returns the kept value, or compute's when there is none yet.
func (m *memo[T]) get(ctx context.Context, compute func() T) T {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return m.v
	}
	v := compute()
	if ctx.Err() == nil {
		m.v, m.done = v, true
	}
	return v
}
