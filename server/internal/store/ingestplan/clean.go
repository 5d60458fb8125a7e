package ingestplan

import "github.com/steward-project/steward/server/internal/store"

// MaxField bounds the agent-reported text that lands in indexed columns:
// PostgreSQL refuses btree entries over about 2,700 bytes, and one odd
// report must not fail a batch.
const MaxField = 512

// Clean makes agent-reported text fit for an indexed text column in either
// database (store.FitText, at most MaxField bytes).
func Clean(s string) string { return store.FitText(s, MaxField) }
