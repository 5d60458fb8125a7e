package collect

import (
	"context"
	"debug/pe"
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
	winreg "golang.org/x/sys/windows/registry"

	"github.com/steward-project/steward/agent/internal/collect/wininv"
	"github.com/steward-project/steward/shared/inventory"
)

// userUninstallPath is UninstallPath inside a user's hive.
const userUninstallPath = `Software\Microsoft\Windows\CurrentVersion\Uninstall`

// collectSoftware reads the programs Programs and Features lists (the
// machine's 64- and 32-bit Uninstall keys and every loaded user hive's)
// and the Store packages installed for any user. Hives of users who are
// not logged on are not loaded and cannot be read without loading them;
// their Store packages are still found through AppxAllUserStore.
func collectSoftware(ctx context.Context, cfg Config) (any, error) {
	if err := liveWindows(cfg); err != nil {
		return nil, err
	}
	uninstall := regSpec{values: wininv.UninstallValues, depth: 1}
	machine, err := readRegistry(winreg.LOCAL_MACHINE, wininv.UninstallPath, uninstall)
	if err != nil {
		return nil, err
	}
	nativeArch, wowArch := uninstallArches()
	pkgs := wininv.UninstallPackages(machine, nativeArch)
	if wow, err := readRegistry(winreg.LOCAL_MACHINE, wininv.Uninstall32Path, uninstall); err == nil {
		pkgs = append(pkgs, wininv.UninstallPackages(wow, wowArch)...)
	} else if !notFound(err) {
		cfg.Logger.Debug("32-bit uninstall key unreadable", "err", err)
	}

	hives, err := winreg.USERS.ReadSubKeyNames(0)
	if err != nil {
		return nil, fmt.Errorf("list loaded user hives: %w", err)
	}
	users, classes := wininv.LoadedUserHives(hives)
	for _, sid := range users {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k, err := readRegistry(winreg.USERS, sid+`\`+userUninstallPath, uninstall)
		if err != nil {
			if !notFound(err) {
				cfg.Logger.Debug("user uninstall key unreadable", "sid", sid, "err", err)
			}
			continue
		}
		pkgs = append(pkgs, wininv.UninstallPackages(k, "")...)
	}

	// Only subkey names matter in the package stores: read no values.
	names := regSpec{values: []string{}, depth: 1}
	store, err := readRegistry(winreg.LOCAL_MACHINE, wininv.AppxAllUserStorePath, regSpec{values: []string{}, depth: 2})
	if err != nil {
		cfg.Logger.Debug("appx all-user store unreadable (needs an administrator)", "err", err)
	}
	var repos []*wininv.Key
	for _, h := range classes {
		if repo, err := readRegistry(winreg.USERS, h+`\`+wininv.AppRepositoryPath, names); err == nil {
			repos = append(repos, repo)
		}
	}
	pkgs = append(pkgs, wininv.MSIXPackages(wininv.AppxFullNames(store, repos...))...)

	pkgs = wininv.SortPackages(pkgs)
	if pkgs == nil {
		pkgs = []inventory.Package{}
	}
	return inventory.Software{Packages: pkgs}, nil
}

// uninstallArches names the architecture of the programs in the native
// (64-bit) and the WOW6432Node (32-bit) Uninstall views. On ARM64 Windows
// x64 programs, which run emulated, register in the native view beside
// ARM64 ones, so that view's architecture is left unknown there.
func uninstallArches() (native, wow string) {
	var process, machine uint16
	if err := windows.IsWow64Process2(windows.CurrentProcess(), &process, &machine); err != nil {
		// Before Windows 10 1511, which had no ARM64 edition: 32-bit
		// Windows runs a 32-bit agent natively, 64-bit Windows under WOW64.
		machine = pe.IMAGE_FILE_MACHINE_AMD64
		var wow bool
		if runtime.GOARCH == "386" && windows.IsWow64Process(windows.CurrentProcess(), &wow) == nil && !wow {
			machine = pe.IMAGE_FILE_MACHINE_I386
		}
	}
	switch machine {
	case pe.IMAGE_FILE_MACHINE_AMD64:
		return wininv.ArchX64, wininv.ArchX86
	case pe.IMAGE_FILE_MACHINE_ARM64:
		return "", wininv.ArchX86
	case pe.IMAGE_FILE_MACHINE_I386:
		return wininv.ArchX86, wininv.ArchX86 // no second view on 32-bit Windows
	}
	return "", ""
}
