package apitypes

// SoftwareHit is one host with one installed package matching a search.
type SoftwareHit struct {
	SoftwareID int64  `json:"software_id"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	Arch       string `json:"arch"`
	Source     string `json:"source"`
	HostID     int64  `json:"host_id"`
	Hostname   string `json:"hostname"`
}

// SoftwareList is one page of software hits. NextCursor is absent on the
// last page.
type SoftwareList struct {
	Software   []SoftwareHit `json:"software"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// SoftwareVersion is how many live hosts have one version of a package
// from one source.
type SoftwareVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	Hosts   int64  `json:"hosts"`
}

// SoftwareVersionList is every version matching a software query.
type SoftwareVersionList struct {
	Versions []SoftwareVersion `json:"versions"`
}
