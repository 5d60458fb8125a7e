package wininv

import (
	"regexp"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// BitLocker state comes from `manage-bde -status`, which lists every
// volume as a header line at the left margin ("Volume C: [Windows]")
// followed by indented "Name: value" lines. The text is localized: the
// volume headers are recognised by their drive letter alone, and the few
// field names and values read here are the English ones. A volume whose
// fields are not recognised stays "unknown" (nil) rather than guessed.
//
// The WMI class Win32_EncryptableVolume documents only ProtectionStatus as
// a property (conversion status needs a method call), and protection
// "off" cannot tell an unencrypted volume from a suspended encrypted one.

var bdeVolumeHeader = regexp.MustCompile(`^\S+\s+"?([A-Za-z]:)"?(\s|$)`)

// ParseManageBDE returns, per drive letter ("C:"), whether the volume is
// encrypted: true when fully encrypted (or "used space only", the default
// for new volumes) or locked; false when fully decrypted or still being
// converted, because part of the data is then in the clear; nil when the
// output does not say in words this parser knows. Volumes without a drive
// letter are not reported.
func ParseManageBDE(out string) map[string]*bool {
	res := make(map[string]*bool)
	var drive string
	fields := map[string]string{}
	flush := func() {
		if drive != "" {
			res[drive] = bitLockerEncrypted(fields)
		}
		drive, fields = "", map[string]string{}
	}
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			if name, value, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && drive != "" {
				fields[strings.ToLower(strings.TrimSpace(name))] = strings.ToLower(strings.TrimSpace(value))
			}
			continue
		}
		if m := bdeVolumeHeader.FindStringSubmatch(line); m != nil {
			flush()
			drive = strings.ToUpper(m[1])
		}
	}
	flush()
	return res
}

func bitLockerEncrypted(f map[string]string) *bool {
	yes, no := true, false
	if f["lock status"] == "locked" {
		return &yes
	}
	switch f["conversion status"] {
	case "fully encrypted", "used space only encrypted":
		return &yes
	case "fully decrypted", "encryption in progress", "decryption in progress",
		"encryption paused", "decryption paused":
		return &no
	}
	return nil
}

// ApplyBitLocker sets Encrypted (and Encryption "bitlocker") on the volumes
// whose drive letter the status map knows. gopsutil names drive-letter
// volumes "C:"; folder mount points are left alone.
func ApplyBitLocker(vols []inventory.Volume, status map[string]*bool) {
	for i := range vols {
		enc, ok := status[strings.ToUpper(strings.TrimRight(vols[i].Mount, `\`))]
		if !ok || enc == nil {
			continue
		}
		v := *enc
		vols[i].Encrypted = &v
		if v {
			vols[i].Encryption = "bitlocker"
		}
	}
}
