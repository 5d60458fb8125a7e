package fleet

import (
	"testing"

	"github.com/steward-project/steward/server/internal/pgtest"
)

// TestMain lets the benchmarks use a PostgreSQL database of their own; the
// shared cluster starts on first use only, so the tests (SQLite) never pay
// for it.
func TestMain(m *testing.M) { pgtest.Main(m) }
