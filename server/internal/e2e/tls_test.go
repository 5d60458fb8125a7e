package e2e

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// testCA signs certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue signs a leaf certificate (server: for 127.0.0.1; client: for
// client authentication) and returns its PEM and its key's PEM.
func (ca *testCA) issue(t *testing.T, serial int64, notAfter time.Time, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("steward e2e %d", serial)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// writeAtomic replaces path's content in one rename, as certificate
// renewal tools do.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// tlsServer is a steward-server serving HTTPS.
type tlsServer struct {
	*proc
	addr    string
	dataDir string
	roots   *x509.CertPool
}

func startTLSServer(t *testing.T, roots *x509.CertPool, args ...string) *tlsServer {
	t.Helper()
	addr := freeAddr(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	all := append([]string{"serve", "--listen", addr, "--db", "sqlite://" + filepath.Join(dir, "steward.db"),
		"--data-dir", dataDir, "--log-level", "debug"}, args...)
	s := &tlsServer{proc: start(t, "steward-server", all...), addr: addr, dataDir: dataDir, roots: roots}
	client := s.client(nil)
	eventually(t, 60*time.Second, "server ready over TLS", func() (bool, string) {
		if s.exited() {
			t.Fatalf("steward-server exited early: %v\n%s", s.err, s.Output())
		}
		resp, err := client.Get(s.url("/readyz"))
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return s
}

func (s *tlsServer) url(path string) string { return "https://" + s.addr + path }

// client is an HTTPS client trusting the server's CA, presenting cert
// when given.
func (s *tlsServer) client(cert *tls.Certificate) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: s.tlsConfig(cert)}}
}

func (s *tlsServer) tlsConfig(cert *tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: s.roots}
	if cert != nil {
		// Sent whatever CAs the server names, as a forged or
		// misconfigured client would.
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return c
}

// serial is the serial number of the certificate a new handshake gets.
func (s *tlsServer) serial(t *testing.T) string {
	t.Helper()
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.roots})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// expiry is the value of the certificate expiry series.
func (s *tlsServer) expiry(t *testing.T) float64 {
	t.Helper()
	resp, err := s.client(nil).Get(s.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	const series = "steward_tls_certificate_expiry_timestamp_seconds "
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series); ok {
			var f float64
			fmt.Sscanf(v, "%g", &f)
			return f
		}
	}
	t.Fatal("no steward_tls_certificate_expiry_timestamp_seconds in /metrics")
	return 0
}

// TestTLSCertificateReloadOnSIGHUP: SIGHUP puts a renewed certificate in
// place for new handshakes, with its expiry exported; a pair that does not
// fit together, or does not parse, is refused and the serving
// certificate stays.
func TestTLSCertificateReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "steward e2e server CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	firstExpiry := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	c1, k1 := ca.issue(t, 101, firstExpiry, false)
	writeAtomic(t, certFile, c1)
	writeAtomic(t, keyFile, k1)
	s := startTLSServer(t, ca.pool(), "--tls-cert", certFile, "--tls-key", keyFile)
	if got := s.serial(t); got != "101" {
		t.Fatalf("serial %s at start, want 101", got)
	}
	if got := s.expiry(t); got != float64(firstExpiry.Unix()) {
		t.Errorf("expiry %v at start, want %d", got, firstExpiry.Unix())
	}

	hup := func() {
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	renewedExpiry := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	c2, k2 := ca.issue(t, 202, renewedExpiry, false)
	writeAtomic(t, certFile, c2)
	writeAtomic(t, keyFile, k2)
	hup()
	eventually(t, 30*time.Second, "the renewed certificate served", func() (bool, string) {
		got := s.serial(t)
		return got == "202", "serial " + got
	})
	if got := s.expiry(t); got != float64(renewedExpiry.Unix()) {
		t.Errorf("expiry %v after the reload, want %d", got, renewedExpiry.Unix())
	}

	bad := []struct {
		name       string
		cert, key  []byte
		refusalsAt int
	}{
		// A new certificate beside the previous key: the pair does not match.
		{"mismatched pair", func() []byte { c, _ := ca.issue(t, 303, renewedExpiry.Add(time.Hour), false); return c }(), k2, 1},
		{"not PEM", []byte("half-written file"), k2, 2},
	}
	for _, b := range bad {
		writeAtomic(t, certFile, b.cert)
		writeAtomic(t, keyFile, b.key)
		hup()
		eventually(t, 30*time.Second, b.name+": the reload refused", func() (bool, string) {
			n := strings.Count(s.Output(), "TLS certificate reload refused")
			return n >= b.refusalsAt, fmt.Sprint(n, " refusals logged")
		})
		if got := s.serial(t); got != "202" {
			t.Errorf("%s: serial %s, want the previous certificate's 202", b.name, got)
		}
		if got := s.expiry(t); got != float64(renewedExpiry.Unix()) {
			t.Errorf("%s: expiry %v, want the previous %d", b.name, got, renewedExpiry.Unix())
		}
	}
	if !strings.Contains(s.Output(), "level=ERROR") {
		t.Error("refused reloads not logged as errors")
	}

	// Fixed files are taken at the next signal.
	c4, k4 := ca.issue(t, 404, renewedExpiry, false)
	writeAtomic(t, certFile, c4)
	writeAtomic(t, keyFile, k4)
	hup()
	eventually(t, 30*time.Second, "the fixed certificate served", func() (bool, string) {
		got := s.serial(t)
		return got == "404", "serial " + got
	})
	if s.exited() {
		t.Fatalf("server exited on SIGHUP:\n%s", s.Output())
	}
}

// TestAgentClientCertificates: with tls_client_auth require, the agent
// endpoints take only clients whose certificate chains to the client CA,
// while /healthz, /readyz, /metrics and the admin API keep serving
// clients without one; with request, a certificate is optional.
func TestAgentClientCertificates(t *testing.T) {
	t.Parallel()
	serverCA := newTestCA(t, "steward e2e server CA")
	agentCA := newTestCA(t, "steward e2e agent CA")
	rogueCA := newTestCA(t, "steward e2e rogue CA")
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "agents-ca.pem")
	c, k := serverCA.issue(t, 1, time.Now().Add(time.Hour), false)
	writeAtomic(t, certFile, c)
	writeAtomic(t, keyFile, k)
	writeAtomic(t, caFile, agentCA.pem)
	pair := func(ca *testCA) *tls.Certificate {
		c, k := ca.issue(t, 7, time.Now().Add(time.Hour), true)
		cert, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return &cert
	}
	agentCert, rogueCert := pair(agentCA), pair(rogueCA)

	enroll := func(s *tlsServer, cert *tls.Certificate) (int, string) {
		secret := readSecret(t, filepath.Join(s.dataDir, "enroll-secret"))
		body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": "mtls"})
		resp, err := s.client(cert).Post(s.url("/agent/v1/enroll"), "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("enroll: %v", err)
		}
		defer resp.Body.Close()
		var out struct {
			NodeKey string `json:"node_key"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.NodeKey
	}
	dialWS := func(s *tlsServer, cert *tls.Certificate, key string) (*websocket.Conn, int, error) {
		d := websocket.Dialer{TLSClientConfig: s.tlsConfig(cert), HandshakeTimeout: 30 * time.Second}
		ws, resp, err := d.Dial("wss://"+s.addr+"/agent/v1/ws", http.Header{"Authorization": {"Bearer " + key}})
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return ws, status, err
	}

	t.Run("require", func(t *testing.T) {
		s := startTLSServer(t, serverCA.pool(), "--tls-cert", certFile, "--tls-key", keyFile,
			"--tls-client-ca", caFile, "--tls-client-auth", "require")
		token := readSecret(t, filepath.Join(s.dataDir, "admin-token"))

		// Without a certificate: the operations endpoints and the admin
		// API serve; the agent endpoints refuse.
		plain := s.client(nil)
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			resp, err := plain.Get(s.url(path))
			if err != nil {
				t.Fatalf("GET %s without a client certificate: %v", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("GET %s without a client certificate: HTTP %d", path, resp.StatusCode)
			}
		}
		req, _ := http.NewRequest("GET", s.url("/api/v1/hosts"), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("admin API without a client certificate: HTTP %d", resp.StatusCode)
		}
		if status, _ := enroll(s, nil); status != http.StatusForbidden {
			t.Errorf("enroll without a client certificate: HTTP %d, want 403", status)
		}

		// With the agent CA's certificate: enroll and connect.
		status, key := enroll(s, agentCert)
		if status != 200 || key == "" {
			t.Fatalf("enroll with a client certificate: HTTP %d", status)
		}
		if _, status, err := dialWS(s, nil, key); err == nil || status != http.StatusForbidden {
			t.Errorf("WebSocket without a client certificate: HTTP %d, %v; want 403", status, err)
		}
		ws, status, err := dialWS(s, agentCert, key)
		if err != nil {
			t.Fatalf("WebSocket with a client certificate: HTTP %d, %v", status, err)
		}
		defer ws.Close()
		hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, OS: "linux", Hostname: "mtls"})
		ws.WriteMessage(websocket.TextMessage, hello)
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), `"welcome"`) {
			t.Fatalf("handshake with a client certificate: %v %s", err, msg)
		}

		// A certificate from another CA fails the TLS handshake itself,
		// on any route.
		if resp, err := s.client(rogueCert).Get(s.url("/healthz")); err == nil {
			resp.Body.Close()
			t.Errorf("a certificate from an unknown CA was accepted: HTTP %d", resp.StatusCode)
		}
		eventually(t, 30*time.Second, "refused agent requests logged", func() (bool, string) {
			return strings.Contains(s.Output(), "no client certificate"), ""
		})
	})

	t.Run("request", func(t *testing.T) {
		s := startTLSServer(t, serverCA.pool(), "--tls-cert", certFile, "--tls-key", keyFile,
			"--tls-client-ca", caFile, "--tls-client-auth", "request")
		if status, key := enroll(s, nil); status != 200 || key == "" {
			t.Errorf("enroll without a client certificate: HTTP %d", status)
		}
		if status, key := enroll(s, agentCert); status != 200 || key == "" {
			t.Errorf("enroll with a client certificate: HTTP %d", status)
		}
		if resp, err := s.client(rogueCert).Get(s.url("/healthz")); err == nil {
			resp.Body.Close()
			t.Errorf("a certificate from an unknown CA was accepted: HTTP %d", resp.StatusCode)
		}
	})
}
