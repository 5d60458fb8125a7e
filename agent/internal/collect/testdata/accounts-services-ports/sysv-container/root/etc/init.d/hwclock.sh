#!/bin/sh
### BEGIN INIT INFO
# Provides:          hwclock.sh
# Required-Start:    $remote_fs $syslog
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Set system clock
# Description:       A longer description that is not
#                    the display name.
### END INIT INFO

hwclocksh()
{
    HCTOSYS_DEVICE=rtc0
}
. /lib/lsb/init-functions
case "$1" in
  start) start-stop-daemon --start --quiet --pidfile $PIDFILE --exec $DAEMON ;;
esac
