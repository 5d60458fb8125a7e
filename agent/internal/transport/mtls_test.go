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
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// clientCert issues a client certificate named cn and writes it and its
// key as PEM files.
func (ca *testCA) clientCert(t *testing.T, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// mutualServer is privateServer that requires and verifies a client
// certificate from clientCA, and records the verified client names per
// path.
type mutualServer struct {
	url string
	mu  sync.Mutex
	cns map[string][]string
}

func newMutualServer(t *testing.T, serverCA, clientCA *testCA) *mutualServer {
	t.Helper()
	ms := &mutualServer{cns: map[string][]string{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "no verified client certificate", http.StatusForbidden)
			return
		}
		ms.mu.Lock()
		ms.cns[r.URL.Path] = append(ms.cns[r.URL.Path], r.TLS.VerifiedChains[0][0].Subject.CommonName)
		ms.mu.Unlock()
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
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serverCA.serverCert(t)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ms.url = srv.URL
	return ms
}

func (ms *mutualServer) seen(path string) []string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]string(nil), ms.cns["/"+path]...)
}

// With cert_file and key_file the agent presents its certificate on
// enrollment and on the WebSocket; without one, or with one from a CA the
// server does not trust, both are refused by the TLS handshake.
func TestMutualTLS(t *testing.T) {
	serverCA := newTestCA(t, "server CA")
	clientCA := newTestCA(t, "agent CA")
	ms := newMutualServer(t, serverCA, clientCA)
	roots, err := LoadCAFile(serverCA.file(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	certFile, keyFile := clientCA.clientCert(t, "agent-42")
	cert, err := LoadClientCert(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ms.url, NewMutualTLSClient(roots, &cert))
	if err != nil {
		t.Fatal(err)
	}
	if enr, err := c.Enroll(ctx, "secret", "host", nil); err != nil || enr.NodeKey != testKey {
		t.Fatalf("enroll with a client certificate: %+v %v", enr, err)
	}
	conn, err := c.Dial(ctx, testKey, time.Minute)
	if err != nil {
		t.Fatalf("dial with a client certificate: %v", err)
	}
	if env, ok := recv(t, conn); !ok || env.Type != wire.TypeAck {
		t.Errorf("received %+v (open %v), want ack", env, ok)
	}
	conn.Close()
	if got := ms.seen(EnrollPath); len(got) != 1 || got[0] != "agent-42" {
		t.Errorf("enroll: server verified %q, want [agent-42]", got)
	}
	if got := ms.seen(WSPath); len(got) != 1 || got[0] != "agent-42" {
		t.Errorf("websocket: server verified %q, want [agent-42]", got)
	}

	strangerCert, strangerKey := newTestCA(t, "stranger CA").clientCert(t, "stranger")
	stranger, err := LoadClientCert(strangerCert, strangerKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, cert := range map[string]*tls.Certificate{"no certificate": nil, "certificate from another CA": &stranger} {
		t.Run(name, func(t *testing.T) {
			c, err := NewClient(ms.url, NewMutualTLSClient(roots, cert))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Enroll(ctx, "secret", "host", nil); err == nil {
				t.Error("enroll succeeded")
			}
			if _, err := c.Dial(ctx, testKey, time.Minute); err == nil {
				t.Error("dial succeeded")
			}
		})
	}
	if got := ms.seen(EnrollPath); len(got) != 1 {
		t.Errorf("the server handled unauthenticated enrollments: %q", got)
	}
}

func TestLoadClientCertRejects(t *testing.T) {
	ca := newTestCA(t, "agent CA")
	certFile, keyFile := ca.clientCert(t, "a")
	_, otherKey := ca.clientCert(t, "b")
	for name, files := range map[string][2]string{
		"missing key":     {certFile, filepath.Join(t.TempDir(), "none.key")},
		"mismatched pair": {certFile, otherKey},
		"swapped":         {keyFile, certFile},
	} {
		if _, err := LoadClientCert(files[0], files[1]); err == nil || !strings.HasPrefix(err.Error(), "cert_file ") {
			t.Errorf("%s: %v, want an error naming cert_file", name, err)
		}
	}
}

// pinChildEnv marks the re-executed test binary of TestCAFilePins.
const pinChildEnv = "STEWARD_TEST_PIN_CHILD"

// TestCAFilePins proves that ca_file replaces the system's roots rather
// than adding to them: a server whose CA the system trusts is accepted
// with no ca_file and refused once ca_file names another CA. The system
// roots are made to hold a test CA by running this test's body in a child
// process with SSL_CERT_FILE set (Go reads it once, at first use).
func TestCAFilePins(t *testing.T) {
	if os.Getenv(pinChildEnv) != "" {
		pinChild(t)
		return
	}
	systemCA := newTestCA(t, "system-trusted CA")
	bundle := filepath.Join(t.TempDir(), "system-roots.pem")
	if err := os.WriteFile(bundle, systemCA.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(systemCA.key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "system-ca.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCAFilePins$", "-test.v")
	cmd.Env = append(os.Environ(), pinChildEnv+"="+keyFile, "SSL_CERT_FILE="+bundle, "SSL_CERT_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pin child: ok") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// pinChild runs in the child: the system roots hold exactly the CA whose
// key the parent passed.
func pinChild(t *testing.T) {
	keyPEM, err := os.ReadFile(os.Getenv(pinChildEnv))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(os.Getenv("SSL_CERT_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	certBlock, _ := pem.Decode(data)
	caCert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	systemCA := &testCA{cert: caCert, key: key.(*ecdsa.PrivateKey), pem: data}
	url := privateServer(t, systemCA)
	ctx := context.Background()

	c, err := NewClient(url, NewHTTPClient(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enroll(ctx, "secret", "host", nil); err != nil {
		t.Fatalf("no ca_file: the system-trusted server was refused (%d roots): %v", len(sys.Subjects()), err)
	}
	pinned, err := LoadCAFile(newTestCA(t, "pinned CA").file(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err = NewClient(url, NewHTTPClient(pinned))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Enroll(ctx, "secret", "host", nil)
	checkUntrusted(t, "enroll", err)
	_, err = c.Dial(ctx, testKey, time.Minute)
	checkUntrusted(t, "dial", err)
	if !t.Failed() {
		t.Log("pin child: ok")
	}
}
