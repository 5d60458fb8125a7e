package ctl

import (
	"fmt"
	"strings"
)

// argCountProblem says what is wrong with n positional arguments for c,
// or "" when n fits. An argument name in brackets is optional
// ("[KEY=VALUE...]"), and a last name ending in "..." takes any number
// more.
func (c *command) argCountProblem(n int) string {
	least, most := 0, len(c.args)
	for i, a := range c.args {
		if !strings.HasPrefix(a, "[") {
			least++
		}
		if i == len(c.args)-1 && strings.HasSuffix(strings.TrimSuffix(a, "]"), "...") {
			most = -1
		}
	}
	switch {
	case least == most && n != least:
		return fmt.Sprintf("%s takes %d argument(s), got %d", c.name, least, n)
	case n < least:
		return fmt.Sprintf("%s takes at least %d argument(s), got %d", c.name, least, n)
	case most >= 0 && n > most:
		return fmt.Sprintf("%s takes at most %d argument(s), got %d", c.name, most, n)
	}
	return ""
}
