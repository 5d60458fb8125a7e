package server

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// certificateExpiry returns when the leaf certificate of the PEM file at
// path expires: the first CERTIFICATE block, which is the leaf in a
// chain file as TLS servers read it. The server reads the file once at
// start, so the expiry stays true for the life of the process.
func certificateExpiry(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("tls certificate: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return time.Time{}, fmt.Errorf("tls certificate %s: no CERTIFICATE block in the PEM file", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return time.Time{}, fmt.Errorf("tls certificate %s: %w", path, err)
		}
		return leaf.NotAfter, nil
	}
}
