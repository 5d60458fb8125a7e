#!/usr/bin/python3
"""Writes flatpak deploy files with GLib's own GVariant serializer, the one
flatpak uses (Debian package python3-gi). Run with the system python:
    /usr/bin/python3 gen.py
The layout of each value follows what flatpak 1.14 stores in
<installation>/<kind>/<id>/<arch>/<branch>/<commit>/deploy:
(origin, commit, subpaths, installed size, metadata)."""
from gi.repository import GLib

V = GLib.Variant


def deploy(name, origin, commit, metadata, subpaths=()):
    value = V("(ssasta{sv})", (origin, commit, list(subpaths), 123456789, metadata))
    with open(name, "wb") as f:
        f.write(value.get_data_as_bytes().get_data())


COMMIT = "3f0d6c8b2d4ae2a8c1d64c7f5f0c1b0e9d1c3f2a4b5c6d7e8f9a0b1c2d3e4f50"

# An application as flatpak 1.14 deploys it from Flathub: AppStream name,
# summary, version and licence copied into the metadata, which also makes
# the whole value larger than 255 bytes (two-byte framing offsets).
deploy("app.deploy", "flathub", COMMIT, {
    "deploy-version": V("u", 4),
    "timestamp": V("t", 1700000000),
    "appdata-name": V("a{ss}", {"C": "Example Editor", "de": "Beispieleditor"}),
    "appdata-summary": V("a{ss}", {"C": "Edits examples"}),
    "appdata-version": V("s", "3.14.1"),
    "appdata-license": V("s", "GPL-3.0-or-later"),
    "runtime": V("s", "runtime/org.example.Platform/x86_64/23.08"),
})

# A runtime: no AppStream version, a locale subpath.
deploy("runtime.deploy", "fedora", COMMIT, {
    "deploy-version": V("u", 4),
    "timestamp": V("t", 1690000000),
}, subpaths=["/de", "/en"])

# The smallest deploy data: empty metadata (one-byte offsets, empty array).
deploy("minimal.deploy", "local", COMMIT, {})
