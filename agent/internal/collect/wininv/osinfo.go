package wininv

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// CurrentVersionPath is the HKLM key that describes the installed Windows.
const CurrentVersionPath = `SOFTWARE\Microsoft\Windows NT\CurrentVersion`

// firstWindows11Build is the build number Windows 11 started at. Windows 11
// kept ProductName "Windows 10 ..." for compatibility, so the build is the
// only reliable tell; Windows Server names are not affected.
const firstWindows11Build = 22000

// OS builds the os section from the CurrentVersion key. arch is the
// machine architecture the caller determined.
func OS(cv *Key, arch string) inventory.OS {
	build := cv.String("CurrentBuild")
	if build == "" {
		build = cv.String("CurrentBuildNumber")
	}
	o := inventory.OS{
		Name:     productName(cv.String("ProductName"), build),
		Platform: "windows",
		Family:   "windows",
		Version:  cv.String("DisplayVersion"), // "23H2"
		Build:    build,
		Kernel:   kernelVersion(cv, build),
		Arch:     arch,
		Edition:  cv.String("EditionID"), // "Professional", "Enterprise", "ServerDatacenter"
	}
	if o.Version == "" {
		o.Version = cv.String("ReleaseId") // "1909" and earlier had no DisplayVersion
	}
	if ubr, ok := cv.Uint("UBR"); ok && build != "" {
		o.Build = fmt.Sprintf("%s.%d", build, ubr) // "22631.2861", as winver shows it
	}
	return o
}

// productName returns the product name as Win32_OperatingSystem's Caption
// spells it ("Microsoft Windows 11 Pro"), correcting Windows 11's.
func productName(name, build string) string {
	if n, err := strconv.Atoi(build); err == nil && n >= firstWindows11Build {
		name = strings.Replace(name, "Windows 10", "Windows 11", 1)
	}
	if name != "" && !strings.HasPrefix(name, "Microsoft ") {
		name = "Microsoft " + name
	}
	return name
}

// kernelVersion is major.minor.build.ubr ("10.0.22631.2861"). Windows 10
// and later keep CurrentVersion at "6.3" for old programs and put the real
// numbers in CurrentMajorVersionNumber and CurrentMinorVersionNumber.
func kernelVersion(cv *Key, build string) string {
	ver := cv.String("CurrentVersion")
	major, okMajor := cv.Uint("CurrentMajorVersionNumber")
	minor, okMinor := cv.Uint("CurrentMinorVersionNumber")
	if okMajor && okMinor {
		ver = fmt.Sprintf("%d.%d", major, minor)
	}
	if ver == "" || build == "" {
		return ver
	}
	ver += "." + build
	if ubr, ok := cv.Uint("UBR"); ok {
		ver += "." + strconv.FormatUint(ubr, 10)
	}
	return ver
}

// MachineGUIDPath holds MachineGuid, created when Windows is installed (or
// sysprepped): an OS install id, not a hardware id.
const MachineGUIDPath = `SOFTWARE\Microsoft\Cryptography`

// MachineID returns MachineGuid in lower case.
func MachineID(crypto *Key) string { return strings.ToLower(crypto.String("MachineGuid")) }
