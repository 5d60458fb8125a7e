package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/config"
)

// writeCert writes a self-signed certificate for 127.0.0.1 that expires
// at notAfter, and its key, as PEM files in dir. The certificate file
// starts with a non-certificate block, as some bundles do.
func writeCert(t *testing.T, dir string, notAfter time.Time) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "steward server test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	if err := os.WriteFile(certFile, append(params, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve runs the server on cfg until the test ends, when it must stop
// cleanly.
func serve(t *testing.T, cfg config.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), "test") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
}

// scrape polls url until it serves /metrics and every series in want
// is there, and returns the value of each sample line by series.
func scrape(t *testing.T, client *http.Client, url string, want ...string) map[string]float64 {
	t.Helper()
	var (
		samples map[string]float64
		last    string
	)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		samples, last = map[string]float64{}, ""
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
				var v float64
				fmt.Sscanf(line[i+1:], "%g", &v)
				samples[line[:i]] = v
			}
		}
		resp.Body.Close()
		missing := ""
		for _, s := range want {
			if _, ok := samples[s]; !ok {
				missing = s
				break
			}
		}
		if missing == "" {
			return samples
		}
		last = "no " + missing
	}
	t.Fatalf("gave up scraping %s: %s", url, last)
	return nil
}

// TestTLSAndStoreMetrics runs the server with a certificate: the
// certificate's expiry is exported, and the store every part uses is the
// measured one, from the migration on, with its pool and ping series.
func TestTLSAndStoreMetrics(t *testing.T) {
	dir := t.TempDir()
	notAfter := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	certFile, keyFile, pool := writeCert(t, dir, notAfter)
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.DB = "sqlite://" + filepath.Join(dir, "steward.db")
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	serve(t, cfg)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	got := scrape(t, client, "https://"+cfg.Listen+"/metrics",
		"steward_tls_certificate_expiry_timestamp_seconds", "steward_store_up",
		`steward_store_operation_duration_seconds_count{operation="Migrate"}`,
		`steward_db_connections{state="idle"}`, `steward_db_connections{state="in_use"}`, "steward_db_max_connections")
	if v := got["steward_tls_certificate_expiry_timestamp_seconds"]; v != float64(notAfter.Unix()) {
		t.Errorf("steward_tls_certificate_expiry_timestamp_seconds = %v, want %d", v, notAfter.Unix())
	}
	if v := got[`steward_store_operation_duration_seconds_count{operation="Migrate"}`]; v != 1 {
		t.Errorf("Migrate observed %v times, want 1", v)
	}
	if v := got["steward_db_max_connections"]; v < 2 {
		t.Errorf("steward_db_max_connections = %v, want the writer and the readers", v)
	}
	// The fleet loop pings at once.
	got = scrape(t, client, "https://"+cfg.Listen+"/metrics", `steward_store_operation_duration_seconds_count{operation="Ping"}`)
	if v := got["steward_store_up"]; v != 1 {
		t.Errorf("steward_store_up = %v after a ping, want 1", v)
	}
}

// TestNoTLSNoExpiry: without a certificate there is no expiry series,
// rather than one that says 1970.
func TestNoTLSNoExpiry(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.DB = "sqlite://" + filepath.Join(dir, "steward.db")
	cfg.DataDir = filepath.Join(dir, "data")
	serve(t, cfg)
	got := scrape(t, http.DefaultClient, "http://"+cfg.Listen+"/metrics", "steward_store_up")
	if _, ok := got["steward_tls_certificate_expiry_timestamp_seconds"]; ok {
		t.Error("steward_tls_certificate_expiry_timestamp_seconds exported without TLS")
	}
}

// TestCertificateExpiryRefusesBadFiles: a certificate that cannot be read
// stops the server at start, naming the file.
func TestCertificateExpiryRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	_, keyFile, _ := writeCert(t, dir, time.Now().Add(time.Hour))
	noCert := filepath.Join(dir, "key-only.pem")
	if err := os.WriteFile(noCert, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.pem")
	if err := os.WriteFile(broken, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{noCert, broken, filepath.Join(dir, "missing.pem")} {
		if _, err := loadKeyPair(path, keyFile); err == nil || !strings.Contains(err.Error(), filepath.Base(path)) {
			t.Errorf("loadKeyPair(%s) = %v, want an error naming the file", filepath.Base(path), err)
		}
	}
}
