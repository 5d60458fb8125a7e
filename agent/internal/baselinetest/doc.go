// Package baselinetest runs the baseline policy pack (shared/policy/baseline)
// through the agent's own Env, on fixture systems and on this machine. It
// holds only tests: they live under agent/ because the Env is internal here.
package baselinetest
