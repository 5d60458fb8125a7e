// Package collect gathers the inventory document from the machine the agent runs on.
package collect
