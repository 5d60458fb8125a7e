package policy

import (
	"encoding/json"
	"fmt"
)

// MaxSetBytes bounds a whole policy set as agents receive it: the JSON
// object {"policies":[...]} of every policy they evaluate. An agent
// refuses a larger set, and the server refuses an apply that would make
// one (413), so that no set is accepted by the server that its agents
// would then refuse. It equals MaxFileSize: the set is validated as one
// file would be.
const MaxSetBytes = MaxFileSize

// SetBytes is the size SetTooLarge compares with MaxSetBytes.
func SetBytes(ps []Policy) (int, error) {
	if ps == nil {
		ps = []Policy{}
	}
	raw, err := json.Marshal(struct {
		Policies []Policy `json:"policies"`
	}{ps})
	if err != nil {
		return 0, fmt.Errorf("policy set size: %w", err)
	}
	return len(raw), nil
}

// SetTooLarge reports, as an error naming the total and the limit,
// whether the set ps is over MaxSetBytes.
func SetTooLarge(ps []Policy) error {
	n, err := SetBytes(ps)
	if err != nil {
		return err
	}
	if n > MaxSetBytes {
		return fmt.Errorf("the policy set is %d bytes in total, over the limit of %d bytes", n, MaxSetBytes)
	}
	return nil
}
