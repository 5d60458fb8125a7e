package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/store"
)

// OfflineActor is who the audit log names for credentials made by
// steward-server itself, without the API.
const OfflineActor = "steward-server (offline)"

// CreateToken makes an API token straight in the store, for when no
// admin token is left to ask the API with. It migrates the schema first,
// so that it also works before the server's first start, and returns the
// token's secret and description.
func CreateToken(ctx context.Context, cfg config.Config, log *slog.Logger, name, role string, expires time.Time) (string, store.APIToken, error) {
	st, _, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return "", store.APIToken{}, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return "", store.APIToken{}, fmt.Errorf("migrate %s: %w", config.Redact(cfg.DB), err)
	}
	secret := auth.NewSecret()
	t, err := st.CreateAPIToken(ctx, store.NewAPIToken{Name: name, Hash: auth.Hash(secret), Role: role,
		ExpiresAt: expires, Actor: OfflineActor})
	if err != nil {
		return "", store.APIToken{}, err
	}
	return secret, t, nil
}
