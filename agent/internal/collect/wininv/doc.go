// Package wininv turns Windows registry, service manager and system data into inventory sections.
//
// Nothing here calls Windows: the agent's *_windows.go files fetch raw data
// (registry keys as a Key tree, service records, socket tables, the SMBIOS
// blob, manage-bde output) and hand it to these functions, and the tests
// feed the same functions with what admins can export on a real machine
// (`reg export` files, PowerShell JSON). Both paths share every rule.
package wininv
