// Package state keeps the agent's state directory: the node key and the
// sequence and hash bookkeeping that survives restarts.
//
// A corrupt state.json is set aside (renamed to state.json.corrupt) and the
// agent starts fresh rather than refusing to run: the server's welcome
// carries the last applied sequence number, so sequence numbers stay unique,
// and an empty set of acknowledged hashes only costs one full inventory.
package state
