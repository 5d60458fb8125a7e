package server

import (
	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/store/postgres"
)

// postgresWriters is how many ingest batch writers, and how many results
// transactions at once, a server on PostgreSQL runs.
const postgresWriters = 4

// apiConns is how many admin API requests on PostgreSQL hold a
// connection at once before the next waits for one.
const apiConns = 4

// postgresPool is who shares a PostgreSQL server's pool: the ingest and
// results writers, the evaluator, the alert delivery workers, the fleet
// and alert engine loops, and the API.
func postgresPool(cfg config.Config) postgres.PoolUsers {
	return postgres.PoolUsers{
		IngestWriters: postgresWriters,
		ResultWriters: postgresWriters,
		Evaluator:     1,
		AlertWorkers:  cfg.Alerting.Delivery.Workers,
		Background:    2,
		API:           apiConns,
	}
}
