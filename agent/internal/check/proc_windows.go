package check

import "os/exec"

// setProcessGroup leaves Windows to exec's default, which kills the
// process itself on cancellation; children it started may outlive it
// (taking them too would need a job object).
func setProcessGroup(*exec.Cmd) {}

// killGroup has no group to kill on Windows; see setProcessGroup.
func killGroup(*exec.Cmd) {}
