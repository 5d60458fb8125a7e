package apitypes

import "time"

// Token is an API token as the API shows it; the secret itself appears
// once, in NewTokenResult, and is never stored.
type Token struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// EnrollSecret is an enroll secret as the API shows it.
type EnrollSecret struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	MaxUses   int64     `json:"max_uses,omitempty"` // 0: no limit
	Uses      int64     `json:"uses"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// NewToken is the body of POST /api/v1/tokens. Role defaults to admin; a
// zero ExpiresAt never expires.
type NewToken struct {
	Name      string    `json:"name"`
	Role      string    `json:"role,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// NewTokenResult answers a token creation: Token is the secret, shown
// this once.
type NewTokenResult struct {
	Token  string `json:"token"`
	Detail Token  `json:"detail"`
}

// NewEnrollSecret is the body of POST /api/v1/enroll-secrets. A zero
// MaxUses has no limit.
type NewEnrollSecret struct {
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	MaxUses   int64     `json:"max_uses,omitempty"`
}

// NewEnrollSecretResult answers a secret creation: Secret is shown this
// once.
type NewEnrollSecretResult struct {
	Secret string       `json:"secret"`
	Detail EnrollSecret `json:"detail"`
}

// TokenList and EnrollSecretList are the list answers.
type (
	TokenList struct {
		Tokens []Token `json:"tokens"`
	}
	EnrollSecretList struct {
		Secrets []EnrollSecret `json:"enroll_secrets"`
	}
)

// HostDeleted answers DELETE /api/v1/hosts/{id}.
type HostDeleted struct {
	ID      int64 `json:"id"`
	Deleted bool  `json:"deleted"`
}
