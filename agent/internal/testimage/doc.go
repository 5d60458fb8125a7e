// Package testimage builds and caches the system images that tests run
// against: a minimal Debian root file system made by debootstrap, kept in
// /var/tmp between test runs and shared by every test that needs it.
// It is test support only; nothing in the agent imports it.
package testimage
