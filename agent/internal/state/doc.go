// Package state keeps the agent's state directory: the node key and the
// sequence and hash bookkeeping that survives restarts, the last policy set
// the server sent (policies.json) and the policy results it acknowledged.
//
// A corrupt state.json is set aside (renamed to state.json.corrupt) and the
// agent starts fresh rather than refusing to run: the server's welcome
// carries the last applied sequence number, so sequence numbers stay unique,
// and an empty set of acknowledged hashes only costs one full inventory.
// An invalid policies.json is set aside the same way (policies.json.corrupt):
// the agent then reports policy revision 0 and the server sends its set again.
package state
