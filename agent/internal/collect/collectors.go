package collect

// Each OS supplies the collectors that registry() names: Linux in files
// named <section>_linux.go, Windows and macOS in *_windows.go and
// *_darwin.go, which start from gopsutil (gopsutil_*_other.go) where it
// has the data:
//
//	collectHost(ctx, cfg) (inventory.Host, error)
//	collectOS(ctx, cfg) (inventory.OS, error)
//	collectCPU(ctx, cfg) (inventory.CPU, error)
//	collectMemory(ctx, cfg) (inventory.Memory, error)
//	collectDisks(ctx, cfg) (inventory.Disks, error)
//	collectSoftware(ctx, cfg) (inventory.Software, error)
//	collectServices(ctx, cfg) (inventory.Services, error)
//	collectUsers(ctx, cfg) (inventory.Users, error)
//	collectPorts(ctx, cfg) (inventory.Ports, error)
//
// each with the collectorFunc signature (returning the section value as
// any). A section an OS cannot provide yet returns an error wrapping
// errors.ErrUnsupported and says why. collectNetwork is shared (network.go):
// net.Interfaces works everywhere, and the OS part lives behind kernel.
//
// Every section must be deterministic for an unchanged machine: no uptime,
// no current clock speed, no load, and lists in a fixed order. The one
// accepted exception is free space in "disks".
