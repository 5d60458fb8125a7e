package ctl

// Exported for the tests of package ctl_test.

// CommandNames lists every command of the table, in order.
func CommandNames() []string {
	out := make([]string, len(commands))
	for i := range commands {
		out[i] = commands[i].name
	}
	return out
}

// CommandFlags lists the flags a command registers itself.
func CommandFlags(name string) []string {
	m := completionModel()
	var out []string
	for _, f := range m.flags[name] {
		out = append(out, f.name)
	}
	return out
}

var (
	Suggest      = suggest
	EditDistance = editDistance
	WithScheme   = withScheme
	CSVCell      = csvCell
)
