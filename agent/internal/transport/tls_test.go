package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// testCA is a certificate authority made for one test.
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
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverCert issues a certificate for 127.0.0.1.
func (ca *testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "steward test server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) file(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// privateServer is a TLS server with a certificate from ca that answers
// enrollment and upgrades the agent WebSocket.
func privateServer(t *testing.T, ca *testCA) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + EnrollPath:
			w.Write([]byte(`{"host_id": 3, "node_key": "` + testKey + `"}`))
		case "/" + WSPath:
			ws, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer ws.Close()
			ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","seq":1,"payload":{}}`))
			ws.ReadMessage()
		default:
			http.NotFound(w, r)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.serverCert(t)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// With the private CA in ca_file the agent enrolls and dials; without it
// (system roots) or with another CA it refuses the server, saying what
// to set.
func TestCAFile(t *testing.T) {
	ca := newTestCA(t, "steward private CA")
	url := privateServer(t, ca)
	ctx := context.Background()

	pool, err := LoadCAFile(ca.file(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(url, NewHTTPClient(pool))
	if err != nil {
		t.Fatal(err)
	}
	if enr, err := c.Enroll(ctx, "secret", "host", nil); err != nil || enr.NodeKey != testKey {
		t.Fatalf("enroll with ca_file: %+v %v", enr, err)
	}
	conn, err := c.Dial(ctx, testKey, time.Minute)
	if err != nil {
		t.Fatalf("dial with ca_file: %v", err)
	}
	if env, ok := recv(t, conn); !ok || env.Type != wire.TypeAck {
		t.Errorf("received %+v (open %v), want ack", env, ok)
	}
	conn.Close()

	other, err := LoadCAFile(newTestCA(t, "someone else's CA").file(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, roots := range map[string]*x509.CertPool{"system roots": nil, "another CA": other} {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(url, NewHTTPClient(roots))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Enroll(ctx, "secret", "host", nil)
			checkUntrusted(t, "enroll", err)
			_, err = c.Dial(ctx, testKey, time.Minute)
			checkUntrusted(t, "dial", err)
		})
	}
}

func checkUntrusted(t *testing.T, op string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s trusted a server signed by an unknown CA", op)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, op+": ") || !strings.Contains(msg, "certificate signed by unknown authority") ||
		!strings.Contains(msg, "set ca_file to the PEM file of the CA that signed it") {
		t.Errorf("%s error does not explain itself: %v", op, err)
	}
}

func TestLoadCAFileRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	ca := newTestCA(t, "ca")
	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.pem"), "no such file"},
		{write("empty.pem", ""), "no PEM certificate in it"},
		{write("text.pem", "this is not PEM\n"), "no PEM certificate in it"},
		{write("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "no PEM certificate in it"},
		{write("broken.pem", string(ca.pem)+"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "certificate 2:"},
	} {
		_, err := LoadCAFile(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "ca_file") {
			t.Errorf("LoadCAFile(%s) = %v, want an error saying %q", filepath.Base(c.path), err, c.want)
		}
	}
	// A bundle: comments and several certificates.
	bundle := write("bundle.pem", "# our CAs\n"+string(ca.pem)+string(newTestCA(t, "second").pem))
	if _, err := LoadCAFile(bundle); err != nil {
		t.Errorf("bundle: %v", err)
	}
}
