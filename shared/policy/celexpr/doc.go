// Package celexpr compiles and evaluates the CEL expressions of expr
// leaves; programs that validate or evaluate them hand it to
// policy.SetExprEngine, and the agent, which gets its expr leaves
// answered by the server, leaves it out.
package celexpr
