package service

import "strings"

// The init scripts below are kardianos templates ({{Key}} is filled in by
// kardianos at install: Path, Arguments, DisplayName, Description);
// @NAME@, @OUTPUT@ and @LAUNCH@ or @USER@ are filled in here first.

// sysvScript is an LSB init script. It starts the program in the
// background in a session of its own with its stdout and stderr appended
// to @OUTPUT@ (a panic or a message from before the program opened its
// own log), keeps its pid in /var/run/@NAME@.pid, stops it with SIGTERM
// and waits up to 10 s, and answers status with the LSB codes: 0
// running, 3 not running.
const sysvScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          @NAME@
# Required-Start:    $network $remote_fs $syslog
# Required-Stop:     $network $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: {{DisplayName}}
# Description:       {{Description}}
### END INIT INFO
# chkconfig: 2345 90 10
# description: {{Description}}

name=@NAME@
exe="{{Path}}"
pid_file=/var/run/$name.pid
output="@OUTPUT@"

# program prints the program a process runs: its argv[0], which is exe
# once the launch has reached it, and nothing for a process that is gone
# or a zombie. (Its command line is readable where its /proc/PID/exe
# link, for a process of another user, is not.)
program() {
	tr '\000' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1
}

# gone succeeds when process $1 has ended: no such process, or a zombie.
# (Its program is no test of that: while it execs, its command line reads
# empty for a moment before the new program's arguments are in place.)
gone() {
	state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -z "$state" ] || [ "$state" = Z ]
}

# running succeeds when the pid file names a live process of exe; checking
# the program makes a stale pid file harmless once its pid is reused.
running() {
	[ -r "$pid_file" ] || return 1
	running_pid=$(cat "$pid_file" 2>/dev/null)
	case "$running_pid" in '' | *[!0-9]*) return 1 ;; esac
	[ "$(program "$running_pid")" = "$exe" ]
}

start() {
	if running; then
		echo "$name is already running"
		return 0
	fi
	echo "Starting $name"
	cd / || return 1
	launcher=
	if command -v setsid >/dev/null 2>&1; then
		launcher=setsid
	fi
	$launcher @LAUNCH@"$exe"{{range Arguments}} {{. | cmd}}{{end}} </dev/null >>"$output" 2>&1 &
	child=$!
	echo "$child" >"$pid_file"
	# Wait until the child has become exe, or has died trying.
	i=0
	until running; do
		if gone "$child" || [ "$i" -ge 50 ]; then
			echo "$name did not start; see $output"
			rm -f "$pid_file"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

stop() {
	if ! running; then
		echo "$name is not running"
		rm -f "$pid_file"
		return 0
	fi
	echo "Stopping $name"
	kill -TERM "$running_pid"
	i=0
	while running; do
		if [ "$i" -ge 100 ]; then
			echo "$name did not stop within 10 seconds"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	rm -f "$pid_file"
}

case "$1" in
start)
	start
	;;
stop)
	stop
	;;
restart | force-reload)
	stop && start
	;;
status)
	if running; then
		echo "Running"
		exit 0
	fi
	echo "Stopped"
	exit 3
	;;
*)
	echo "Usage: $0 {start|stop|restart|force-reload|status}" >&2
	exit 2
	;;
esac
`

// SysVScript returns the SysV init script template for the service name,
// whose output goes to output. When user is not empty the program runs
// as that user and its group (setpriv, from util-linux).
func SysVScript(name, output, user string) string {
	launch := ""
	if user != "" {
		launch = "setpriv --reuid=$(id -u " + user + ") --regid=$(id -g " + user + ") --init-groups "
	}
	return strings.NewReplacer("@NAME@", name, "@OUTPUT@", output, "@LAUNCH@", launch).Replace(sysvScript)
}

// openRCScript runs the program under OpenRC's supervise-daemon, which
// restarts it when it dies, with its stdout and stderr in @OUTPUT@.
const openRCScript = `#!/sbin/openrc-run
name="{{DisplayName}}"
description="{{Description}}"
supervisor=supervise-daemon
command="{{Path}}"
command_args="{{range Arguments}} {{.}}{{end}}"
@USER@output_log="@OUTPUT@"
error_log="@OUTPUT@"
respawn_delay=5
respawn_max=0

depend() {
	need net
	use dns logger
	after firewall
}
`

// OpenRCScript returns the OpenRC service script template for the
// service name, whose output goes to output. When user is not empty the
// program runs as that user and its group.
func OpenRCScript(name, output, user string) string {
	userLine := ""
	if user != "" {
		userLine = "command_user=\"" + user + ":" + user + "\"\n"
	}
	return strings.NewReplacer("@NAME@", name, "@OUTPUT@", output, "@USER@", userLine).Replace(openRCScript)
}
