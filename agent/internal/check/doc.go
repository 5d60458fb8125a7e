// Package check evaluates policies against the live machine (or a root
// file system image): the agent's implementation of policy.Env.
package check
