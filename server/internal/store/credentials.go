package store

import (
	"context"
	"errors"
	"time"
)

// ErrRetired says a node key is a retired host's: the key is known but
// no longer admitted (HostsByNodeKeys marks such a host with RetiredAt).
var ErrRetired = errors.New("host retired")

// Roles of API tokens. A viewer token reads; only an admin token changes
// anything or manages credentials.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// Audit actions of the credential and host lifecycle.
const (
	AuditTokenCreated        = "token_created"
	AuditTokenRevoked        = "token_revoked"
	AuditEnrollSecretCreated = "enroll_secret_created"
	AuditEnrollSecretRevoked = "enroll_secret_revoked"
	AuditHostRetired         = "host_retired"
	AuditHostDeleted         = "host_deleted"
)

// APIToken describes an admin API token; the secret itself is never
// stored, only its hash, which is not part of this description.
type APIToken struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// EnrollSecret describes an enroll secret. Uses counts the hosts that
// enrolled with it and still exist (retired ones included).
type EnrollSecret struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	MaxUses   int64     `json:"max_uses,omitempty"` // 0: no limit
	Uses      int64     `json:"uses"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// NewAPIToken is a token to create. Hash is the hex SHA-256 of the secret;
// a zero ExpiresAt never expires; Actor and At are audited (At zero: now).
type NewAPIToken struct {
	Name, Hash, Role string
	ExpiresAt        time.Time
	Actor            string
	At               time.Time
}

// NewEnrollSecret is an enroll secret to create, like NewAPIToken; a zero
// MaxUses has no limit.
type NewEnrollSecret struct {
	Name, Hash string
	ExpiresAt  time.Time
	MaxUses    int64
	Actor      string
	At         time.Time
}

// Credentials is the lifecycle of API tokens and enroll secrets. Names
// identify live credentials: at most one live credential of a kind has a
// name, and revoking frees it.
type Credentials interface {
	// APITokenByHash returns the live token with this hash: not revoked
	// and not expired at at. Otherwise ErrNotFound.
	APITokenByHash(ctx context.Context, hash string, at time.Time) (APIToken, error)
	// TouchAPIToken sets a token's last-used time to at.
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error
	// CreateAPIToken returns ErrConflict when a live token has the name.
	CreateAPIToken(ctx context.Context, t NewAPIToken) (APIToken, error)
	// ListAPITokens lists tokens by name, then id; revoked ones only with
	// includeRevoked.
	ListAPITokens(ctx context.Context, includeRevoked bool) ([]APIToken, error)
	// RevokeAPIToken revokes the live token with this name, audited;
	// ErrNotFound when there is none.
	RevokeAPIToken(ctx context.Context, name, actor string, at time.Time) (APIToken, error)

	// CreateEnrollSecret returns ErrConflict when a live secret has the
	// name.
	CreateEnrollSecret(ctx context.Context, s NewEnrollSecret) (EnrollSecret, error)
	ListEnrollSecrets(ctx context.Context, includeRevoked bool) ([]EnrollSecret, error)
	// RevokeEnrollSecret revokes the live secret with this name. Hosts
	// already enrolled with it are not affected.
	RevokeEnrollSecret(ctx context.Context, name, actor string, at time.Time) (EnrollSecret, error)
}

// HostLifecycle retires and deletes hosts.
type HostLifecycle interface {
	// RetireHost marks a host retired at at, audited: its node key is
	// refused from then on (ErrRetired), its current
	// policy results are dropped (so it leaves compliance counts), and it
	// leaves host lists and fleet counts; its inventory and history stay.
	// ErrNotFound for an unknown id, ErrConflict for a retired host.
	RetireHost(ctx context.Context, id int64, actor string, at time.Time) (Host, error)
	// DeleteHost removes a host and everything stored about it, audited.
	// ErrNotFound for an unknown id.
	DeleteHost(ctx context.Context, id int64, actor string, at time.Time) error
	// RetiredSince returns the ids of hosts retired at or after since, so
	// that every server can close their sockets.
	RetiredSince(ctx context.Context, since time.Time) ([]int64, error)
}
