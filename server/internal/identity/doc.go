// Package identity normalizes the hardware identifiers agents report
// (hardware UUID, machine id, serial number) so that two hosts carrying the
// same one, typically cloned virtual machines, can be recognized, and
// firmware placeholders shared by unrelated machines are not.
package identity
