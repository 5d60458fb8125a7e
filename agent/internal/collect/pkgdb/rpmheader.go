package pkgdb

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// rpm header tags read (rpmtag.h) and the types they must have.
const (
	tagName        = 1000
	tagVersion     = 1001
	tagRelease     = 1002
	tagEpoch       = 1003
	tagInstallTime = 1008
	tagVendor      = 1011
	tagArch        = 1022

	typeInt32  = 4
	typeString = 6

	// The limits rpm itself puts on a header (hdrchkTags, hdrchkData).
	maxHeaderTags = 0xffff
	maxHeaderData = 256 << 20
)

// rpmHeader holds the fields of one installed package's header.
type rpmHeader struct {
	name, version, release, arch, vendor string
	epoch                                uint32
	hasEpoch                             bool
	installTime                          uint32
}

// parseRPMHeader reads the header blob that every rpm database backend
// stores per package: a count of index entries (il) and the data length
// (dl), both big-endian; il entries of {tag, type, offset, count}; then dl
// bytes of data the offsets point into. Only the handful of tags the
// inventory needs are decoded, and every offset is checked, since the blob
// comes from a file anyone with write access to the database could craft.
func parseRPMHeader(blob []byte) (rpmHeader, error) {
	var h rpmHeader
	if len(blob) < 8 {
		return h, corrupt("rpm header of %d bytes", len(blob))
	}
	il := binary.BigEndian.Uint32(blob)
	dl := binary.BigEndian.Uint32(blob[4:])
	if il == 0 || il > maxHeaderTags || dl > maxHeaderData {
		return h, corrupt("rpm header with %d tags and %d data bytes", il, dl)
	}
	dataStart := 8 + 16*int(il)
	if dataStart+int(dl) > len(blob) {
		return h, corrupt("rpm header of %d tags and %d data bytes in %d bytes", il, dl, len(blob))
	}
	data := blob[dataStart : dataStart+int(dl)]
	for i := 0; i < int(il); i++ {
		e := blob[8+16*i:]
		tag := binary.BigEndian.Uint32(e)
		typ := binary.BigEndian.Uint32(e[4:])
		off := binary.BigEndian.Uint32(e[8:])
		count := binary.BigEndian.Uint32(e[12:])
		var dst *string
		switch tag {
		case tagName:
			dst = &h.name
		case tagVersion:
			dst = &h.version
		case tagRelease:
			dst = &h.release
		case tagArch:
			dst = &h.arch
		case tagVendor:
			dst = &h.vendor
		case tagEpoch, tagInstallTime:
			if typ != typeInt32 || count < 1 || uint64(off)+4 > uint64(len(data)) {
				return h, corrupt("rpm tag %d: type %d, %d values at %d", tag, typ, count, off)
			}
			v := binary.BigEndian.Uint32(data[off:])
			if tag == tagEpoch {
				h.epoch, h.hasEpoch = v, true
			} else {
				h.installTime = v
			}
			continue
		default:
			continue
		}
		if typ != typeString || uint64(off) >= uint64(len(data)) {
			return h, corrupt("rpm tag %d: type %d at %d", tag, typ, off)
		}
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 {
			return h, corrupt("rpm tag %d: unterminated string", tag)
		}
		// Later entries win: entries appended after the signed region
		// ("dribbles") replace the region's, as in rpm's own import.
		*dst = string(data[off : int(off)+end])
	}
	if h.name == "" || h.version == "" {
		return h, corrupt("rpm header without name or version")
	}
	return h, nil
}

// evr formats the version as rpm's %{EVR} query tag does: the epoch and a
// colon when the header has an epoch at all (so an explicit "Epoch: 0"
// shows as "0:"), then version, then "-release".
func (h rpmHeader) evr() string {
	v := h.version
	if h.release != "" {
		v += "-" + h.release
	}
	if h.hasEpoch {
		v = strconv.FormatUint(uint64(h.epoch), 10) + ":" + v
	}
	return v
}

// isPseudo reports headers that rpm lists but that are not software: each
// imported signing key is stored as a gpg-pubkey package.
func (h rpmHeader) isPseudo() bool { return h.name == "gpg-pubkey" }

func (h rpmHeader) pkg() inventory.Package {
	p := inventory.Package{
		Name:      h.name,
		Version:   h.evr(),
		Arch:      h.arch,
		Source:    inventory.SourceRPM,
		Publisher: h.vendor,
	}
	if h.installTime != 0 {
		p.InstallTime = time.Unix(int64(h.installTime), 0).UTC()
	}
	return p
}
