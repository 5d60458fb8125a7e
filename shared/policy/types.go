// Package policy is Steward's compliance model: the policy file format
// (docs/policies.md), its validation, and the evaluator both the agent and the
// server run.
package policy

import (
	"time"
)

// Severity levels, lowest first.
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Status is the outcome of evaluating one policy on one host.
type Status string

// Statuses. Exempt is set only by the server, where an exemption applies.
const (
	StatusPass          Status = "pass"
	StatusFail          Status = "fail"
	StatusNotApplicable Status = "not_applicable"
	StatusError         Status = "error"
	StatusExempt        Status = "exempt"
)

// Policy is one validated policy. Check and AppliesIf hold the check tree.
type Policy struct {
	ID          string   `json:"id" yaml:"id"`
	Title       string   `json:"title" yaml:"title"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Severity    string   `json:"severity" yaml:"severity"`
	Platforms   []string `json:"platforms,omitempty" yaml:"platforms,omitempty"`
	Tags        []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Rationale   string   `json:"rationale,omitempty" yaml:"rationale,omitempty"`
	Remediation string   `json:"remediation,omitempty" yaml:"remediation,omitempty"`
	// Fix is the remediation as data (fix.go): texts to review and run,
	// never run by Steward.
	Fix       *Fix   `json:"fix,omitempty" yaml:"fix,omitempty"`
	AppliesIf *Check `json:"applies_if,omitempty" yaml:"applies_if,omitempty"`
	Check     Check  `json:"check" yaml:"check"`
	// Parameters are the variables the policy declares, by name, for
	// "${name}" references in its value tests (params.go).
	Parameters map[string]Parameter `json:"parameters,omitempty" yaml:"parameters,omitempty"`
	// References name the policy in outside catalogues, by catalogue
	// ("cis", "ssg", ...): one or more ids each.
	References map[string][]string `json:"references,omitempty" yaml:"references,omitempty"`
	// Values are parameter values set by a tailoring (Tailoring.Apply),
	// overriding the defaults. They are local to the evaluating agent and
	// are not part of the policy format.
	Values map[string]string `json:"-" yaml:"-"`
}

// Check is one node of a check tree: exactly one of its fields is set.
// All, Any and None combine child checks; the others are leaves.
type Check struct {
	All          []Check            `json:"all,omitempty" yaml:"all,omitempty"`
	Any          []Check            `json:"any,omitempty" yaml:"any,omitempty"`
	None         []Check            `json:"none,omitempty" yaml:"none,omitempty"`
	File         *FileCheck         `json:"file,omitempty" yaml:"file,omitempty"`
	Package      *PackageCheck      `json:"package,omitempty" yaml:"package,omitempty"`
	Service      *ServiceCheck      `json:"service,omitempty" yaml:"service,omitempty"`
	Port         *PortCheck         `json:"port,omitempty" yaml:"port,omitempty"`
	Registry     *RegistryCheck     `json:"registry,omitempty" yaml:"registry,omitempty"`
	Command      *CommandCheck      `json:"command,omitempty" yaml:"command,omitempty"`
	Expr         string             `json:"expr,omitempty" yaml:"expr,omitempty"`
	Find         *FindCheck         `json:"find,omitempty" yaml:"find,omitempty"`
	Sysctl       *SysctlCheck       `json:"sysctl,omitempty" yaml:"sysctl,omitempty"`
	Mount        *MountCheck        `json:"mount,omitempty" yaml:"mount,omitempty"`
	KernelModule *KernelModuleCheck `json:"kernel_module,omitempty" yaml:"kernel_module,omitempty"`
	SystemdUnit  *SystemdUnitCheck  `json:"systemd_unit,omitempty" yaml:"systemd_unit,omitempty"`
	AppArmor     *AppArmorCheck     `json:"apparmor,omitempty" yaml:"apparmor,omitempty"`
	SELinux      *SELinuxCheck      `json:"selinux,omitempty" yaml:"selinux,omitempty"`
	PAM          *PAMCheck          `json:"pam,omitempty" yaml:"pam,omitempty"`
	SSHD         *SSHDCheck         `json:"sshd,omitempty" yaml:"sshd,omitempty"`
	LoginDefs    *LoginDefsCheck    `json:"login_defs,omitempty" yaml:"login_defs,omitempty"`
	Accounts     *AccountsCheck     `json:"accounts,omitempty" yaml:"accounts,omitempty"`
	Shadow       *ShadowCheck       `json:"shadow,omitempty" yaml:"shadow,omitempty"`
	Setting      *SettingCheck      `json:"setting,omitempty" yaml:"setting,omitempty"`
	Environment  *EnvironmentCheck  `json:"environment,omitempty" yaml:"environment,omitempty"`
}

// FileCheck tests files. Path may be a glob. Mode is octal text ("0644").
// Owner and Group each name one allowed account or group (a name, or a
// numeric id); Owners and Groups hold the allowed names when the policy
// lists several, and travel in JSON under the same "owner" and "group"
// keys (see FileCheck.MarshalJSON in leaf_file.go).
type FileCheck struct {
	Path       string   `json:"path" yaml:"path"`
	Exists     *bool    `json:"exists,omitempty" yaml:"exists,omitempty"`
	Matches    string   `json:"matches,omitempty" yaml:"matches,omitempty"`
	NotMatches string   `json:"not_matches,omitempty" yaml:"not_matches,omitempty"`
	ModeMax    string   `json:"mode_max,omitempty" yaml:"mode_max,omitempty"`
	Owner      string   `json:"owner,omitempty" yaml:"owner,omitempty"`
	Owners     []string `json:"-" yaml:"-"`
	Group      string   `json:"group,omitempty" yaml:"group,omitempty"`
	Groups     []string `json:"-" yaml:"-"`
	BitsSet    string   `json:"bits_set,omitempty" yaml:"bits_set,omitempty"`
	BitsClear  string   `json:"bits_clear,omitempty" yaml:"bits_clear,omitempty"`
	SUID       *bool    `json:"suid,omitempty" yaml:"suid,omitempty"`
	SGID       *bool    `json:"sgid,omitempty" yaml:"sgid,omitempty"`
	Sticky     *bool    `json:"sticky,omitempty" yaml:"sticky,omitempty"`
	Type       string   `json:"type,omitempty" yaml:"type,omitempty"`
}

// PackageCheck tests installed software, comparing versions by the
// package source's own rules.
type PackageCheck struct {
	Name       string `json:"name" yaml:"name"`
	Installed  *bool  `json:"installed,omitempty" yaml:"installed,omitempty"`
	MinVersion string `json:"min_version,omitempty" yaml:"min_version,omitempty"`
	MaxVersion string `json:"max_version,omitempty" yaml:"max_version,omitempty"`
}

// ServiceCheck tests a system service.
type ServiceCheck struct {
	Name    string `json:"name" yaml:"name"`
	Running *bool  `json:"running,omitempty" yaml:"running,omitempty"`
	Enabled *bool  `json:"enabled,omitempty" yaml:"enabled,omitempty"`
}

// PortCheck passes when a socket listens on the port (tcp unless Proto says udp).
type PortCheck struct {
	Listening int    `json:"listening" yaml:"listening"`
	Proto     string `json:"proto,omitempty" yaml:"proto,omitempty"`
}

// RegistryCheck tests a Windows registry value.
type RegistryCheck struct {
	Key     string `json:"key" yaml:"key"`
	Value   string `json:"value,omitempty" yaml:"value,omitempty"`
	Equals  string `json:"equals,omitempty" yaml:"equals,omitempty"`
	Matches string `json:"matches,omitempty" yaml:"matches,omitempty"`
}

// CommandCheck runs a program; refused unless the agent's own local
// configuration allows commands.
type CommandCheck struct {
	Run           []string `json:"run" yaml:"run"`
	ExitCode      *int     `json:"exit_code,omitempty" yaml:"exit_code,omitempty"`
	OutputMatches string   `json:"output_matches,omitempty" yaml:"output_matches,omitempty"`
	Timeout       string   `json:"timeout,omitempty" yaml:"timeout,omitempty"` // Go duration, default 10s
}

// Result is one policy's outcome on one host.
type Result struct {
	PolicyID  string        `json:"policy_id"`
	Status    Status        `json:"status"`
	Evidence  []Evidence    `json:"evidence,omitempty"`
	Error     string        `json:"error,omitempty"`
	CheckedAt time.Time     `json:"checked_at"`
	Duration  time.Duration `json:"duration_ns"`
	// Parameters are the parameter values the evaluation used (defaults
	// after tailoring), by name.
	Parameters map[string]string `json:"parameters,omitempty"`
}

// Evidence is what one leaf saw: where it looked, what it found, and
// whether that passed. Detail is capped in size.
type Evidence struct {
	// Check names the leaf by its place in the tree: "check.all[1].file".
	Check  string `json:"check"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}
