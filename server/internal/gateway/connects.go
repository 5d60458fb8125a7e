package gateway

import (
	"context"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// Defaults of the connect recorder.
const (
	// connectBatch is the most hellos one store call records.
	connectBatch = 500
	// connectWriteTimeout bounds one store call.
	connectWriteTimeout = 10 * time.Second
)

// connectStore records agents' hellos; store.Store is one.
type connectStore interface {
	HostsConnected(ctx context.Context, cs []store.Connect) (missing []bool, err error)
}

// connectRecorder records agents' hellos in batches (gatherer), each
// connection waiting for its own. A lone hello is recorded at once, as
// before; when a fleet reconnects to a restarted server, the hellos of
// hundreds of agents share one statement and one commit instead of
// taking a pool connection and a commit each, which on PostgreSQL was
// the largest share of a reconnect's database time.
type connectRecorder struct {
	gatherer[store.Connect, struct{}]
}

func newConnectRecorder(st connectStore) *connectRecorder {
	return &connectRecorder{gatherer[store.Connect, struct{}]{batch: connectBatch, timeout: connectWriteTimeout,
		do: func(ctx context.Context, cs []store.Connect, out []gathered[struct{}]) {
			missing, err := st.HostsConnected(ctx, cs)
			for i := range out {
				switch {
				case err != nil:
					out[i].err = err
				case missing[i]:
					out[i].err = store.ErrNotFound
				}
			}
		}}}
}

// record records c and returns once it is recorded (nil), failed, or ctx
// ended. A host that no longer exists is store.ErrNotFound.
func (r *connectRecorder) record(ctx context.Context, c store.Connect) error {
	_, err := r.call(ctx, c)
	return err
}
