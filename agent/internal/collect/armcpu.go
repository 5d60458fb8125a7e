package collect

import "strings"

// ARM kernels print no "model name"; they give the implementer and part
// numbers from the MIDR register. These are the parts found in servers,
// clouds and common boards (from the vendors' reference manuals); an
// unknown part is shown by its numbers.
var armImplementers = map[string]string{
	"0x41": "ARM", "0x42": "Broadcom", "0x43": "Cavium", "0x46": "Fujitsu",
	"0x48": "HiSilicon", "0x4e": "NVIDIA", "0x50": "APM", "0x51": "Qualcomm",
	"0x61": "Apple", "0x6d": "Microsoft", "0xc0": "Ampere",
}

var armParts = map[string]string{
	"0x41/0xd03": "Cortex-A53", "0x41/0xd04": "Cortex-A35", "0x41/0xd05": "Cortex-A55",
	"0x41/0xd07": "Cortex-A57", "0x41/0xd08": "Cortex-A72", "0x41/0xd09": "Cortex-A73",
	"0x41/0xd0a": "Cortex-A75", "0x41/0xd0b": "Cortex-A76", "0x41/0xd0c": "Neoverse-N1",
	"0x41/0xd0d": "Cortex-A77", "0x41/0xd40": "Neoverse-V1", "0x41/0xd41": "Cortex-A78",
	"0x41/0xd44": "Cortex-X1", "0x41/0xd46": "Cortex-A510", "0x41/0xd47": "Cortex-A710",
	"0x41/0xd48": "Cortex-X2", "0x41/0xd49": "Neoverse-N2", "0x41/0xd4f": "Neoverse-V2",
	"0x48/0xd01": "Kunpeng-920", "0x46/0x001": "A64FX",
	"0xc0/0xac3": "Ampere-1", "0xc0/0xac4": "Ampere-1a",
}

// armModel names an ARM core from cpuinfo's "CPU implementer" and
// "CPU part" values, or "" when they are absent.
func armModel(implementer, part string) string {
	implementer, part = strings.ToLower(implementer), strings.ToLower(part)
	if implementer == "" || part == "" {
		return ""
	}
	vendor := armImplementers[implementer]
	if vendor == "" {
		vendor = "ARM implementer " + implementer
	}
	if name := armParts[implementer+"/"+part]; name != "" {
		return vendor + " " + name
	}
	return vendor + " part " + part
}
