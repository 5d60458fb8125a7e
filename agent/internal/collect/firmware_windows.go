package collect

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

// rsmb is the 'RSMB' firmware table provider (raw SMBIOS), as the DWORD
// the API takes: the four characters from the most significant byte down.
const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'

// rawSMBIOS returns RawSMBIOSData as GetSystemFirmwareTable('RSMB', 0)
// gives it; no privilege is needed. The API returns the bytes written, or
// the size needed when the buffer is too small, or 0 on failure.
func rawSMBIOS() ([]byte, error) {
	if err := procGetSystemFirmwareTable.Find(); err != nil {
		return nil, err
	}
	n, _, err := procGetSystemFirmwareTable.Call(rsmb, 0, 0, 0)
	if n == 0 {
		return nil, fmt.Errorf("GetSystemFirmwareTable size: %w", err)
	}
	buf := make([]byte, n)
	got, _, err := procGetSystemFirmwareTable.Call(rsmb, 0, uintptr(unsafe.Pointer(&buf[0])), n)
	if got == 0 || got > n {
		return nil, fmt.Errorf("GetSystemFirmwareTable: %w", err)
	}
	return buf[:got], nil
}
