// Package cistest holds the tests that measure the CIS Debian 12 Level 1
// Server pack against its external benchmark: coverage of the profile's
// rules (every rule covered by a policy or listed as not covered with a
// reason), agreement with OpenSCAP, rule by rule, on a real Debian 12
// image, and agreement of the pack's server-side counterparts (judged from
// inventory alone) with their machine policies on the same images. The
// pack's own fixture tests are TestCISPack in package packtest.
package cistest
