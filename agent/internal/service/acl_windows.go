package service

import "golang.org/x/sys/windows"

// stewardDACL grants full control to SYSTEM and the Administrators group
// only, inherited by every file and directory below, and protected from
// what the parent (%ProgramData%, readable by Users) would pass down.
const stewardDACL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// secureDir replaces dir's access control list with stewardDACL, which
// its files (the configuration, the enroll secret, the state directory)
// inherit.
func secureDir(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(stewardDACL)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		nil, nil, dacl, nil)
}

// isAdmin reports whether this process runs elevated.
func isAdmin() bool {
	return windows.GetCurrentProcessToken().IsElevated()
}
