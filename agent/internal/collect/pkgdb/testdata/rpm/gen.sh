#!/usr/bin/env bash
# Regenerates the committed rpm databases that Debian's rpm cannot write:
#   ndb/Packages.db  written by rpm itself, built with --enable-ndb (Debian
#                    builds it without): pass that rpm as RPM_NDB
#   bdb*/Packages    a Berkeley DB hash written by Berkeley DB's db_load
#                    (Debian package db5.3-util) from the header blobs of a
#                    database Debian's rpm wrote, keyed as rpm keyed them
#   sqlite-small/rpmdb.sqlite  a few headers in an SQLite file with 512-byte
#                    pages, written by the sqlite3 shell: fuzz seeds
#   headers/*.hdr    single header blobs: fuzz seeds
# Each database comes with rpm-qa.txt, what rpm itself listed from it.
# Usage: RPM_NDB=/path/to/rpm ./gen.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${RPM_NDB:?set RPM_NDB to an rpm binary built with --enable-ndb}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
qf='%{NAME}\t%{EVR}\t%{ARCH}\t%{VENDOR}\t%{INSTALLTIME}\n'

rpmbuild --quiet --define "_topdir $work/build" --define "_binary_payload w0.ufdio" -bb "$here/fixture.spec"
rpms=("$work"/build/RPMS/*/*.rpm)

# ndb
mkdir -p "$work/ndb" "$here/ndb"
"$RPM_NDB" --dbpath "$work/ndb" --define '_db_backend ndb' --justdb --nodeps --noscripts -i "${rpms[@]}"
"$(dirname "$RPM_NDB")/rpmkeys" --dbpath "$work/ndb" --define '_db_backend ndb' --import "$here/pubkey.asc"
cp "$work/ndb/Packages.db" "$here/ndb/Packages.db"
"$RPM_NDB" --dbpath "$work/ndb" --define '_db_backend ndb' -qa --qf "$qf" | LC_ALL=C sort > "$here/ndb/rpm-qa.txt"

# sqlite, the source of the blobs below
mkdir -p "$work/sqlite"
rpm --dbpath "$work/sqlite" --justdb --nodeps --noscripts -i "${rpms[@]}" 2>/dev/null
rpmkeys --dbpath "$work/sqlite" --import "$here/pubkey.asc"

# bdb: rpm keyed Packages by the header number in native byte order and
# kept the next free number under key 0. Two layouts: rpm's usual 4 KiB
# pages, and 512-byte pages with one key per bucket, so that the bucket
# walk crosses several split points.
bdb() { # dir pagesize ffactor
	mkdir -p "$work/$1" "$here/$1"
	{
		echo "VERSION=3"
		echo "format=bytevalue"
		echo "type=hash"
		echo "db_pagesize=$2"
		echo "h_ffactor=$3"
		echo "HEADER=END"
		next=$(sqlite3 "$work/sqlite/rpmdb.sqlite" 'select max(hnum)+1 from Packages')
		printf ' 00000000\n %s\n' "$(le32 "$next")"
		sqlite3 "$work/sqlite/rpmdb.sqlite" 'select hnum, hex(blob) from Packages' | while IFS='|' read -r n hex; do
			printf ' %s\n %s\n' "$(le32 "$n")" "${hex,,}"
		done
		echo "DATA=END"
	} > "$work/$1.dump"
	rm -f "$here/$1/Packages"
	db5.3_load -f "$work/$1.dump" "$here/$1/Packages"
	cp "$here/$1/Packages" "$work/$1/Packages"
	rpm --dbpath "$work/$1" --define '_db_backend bdb_ro' -qa --qf "$qf" 2>/dev/null | LC_ALL=C sort > "$here/$1/rpm-qa.txt"
}
le32() { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }
bdb bdb 4096 0
bdb bdb-512 512 1

# fuzz seeds
mkdir -p "$here/sqlite-small" "$here/headers"
rm -f "$here/sqlite-small/rpmdb.sqlite" "$here"/headers/*.hdr
sqlite3 "$here/sqlite-small/rpmdb.sqlite" <<SQL
PRAGMA page_size = 512;
CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
ATTACH '$work/sqlite/rpmdb.sqlite' AS src;
INSERT INTO Packages SELECT hnum, blob FROM src.Packages WHERE length(blob) < 2000;
SQL
sqlite3 "$here/sqlite-small/rpmdb.sqlite" 'select hnum from Packages' | while read -r n; do
	sqlite3 "$here/sqlite-small/rpmdb.sqlite" "select writefile('$here/headers/$n.hdr', blob) from Packages where hnum = $n" >/dev/null
done
# rpm will not open a database without its index tables, so the listing
# comes from the database the rows were copied from.
sqlite3 "$here/sqlite-small/rpmdb.sqlite" 'select hnum from Packages' | while read -r n; do
	rpm --dbpath "$work/sqlite" -q --querybynumber "$n" --qf "$qf"
done | LC_ALL=C sort > "$here/sqlite-small/rpm-qa.txt"
