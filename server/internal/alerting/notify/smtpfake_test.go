package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	smtpUser     = "steward"
	smtpPassword = "smtp-pa55word"
)

// delivery is one message the test SMTP server accepted.
type delivery struct {
	from string
	rcpt []string
	data []byte
	tls  bool
	user string
}

// smtpFake is an SMTP server on loopback with STARTTLS and AUTH PLAIN
// required, capturing what it accepts.
type smtpFake struct {
	addr   string
	caFile string
	// rcptErr, when set, answers RCPT TO with it.
	rcptErr error

	mu   sync.Mutex
	got  []delivery
	auth []string // usernames that authenticated
}

func newSMTPFake(t *testing.T, withTLS bool, rcptErr error) *smtpFake {
	t.Helper()
	f := &smtpFake{rcptErr: rcptErr}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{f: f, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		cert, caPEM := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		f.caFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(f.caFile, caPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return f
}

func (f *smtpFake) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery(nil), f.got...)
}

type smtpSession struct {
	f    *smtpFake
	conn *smtp.Conn
	user string
	d    delivery
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != smtpUser || password != smtpPassword {
			return smtp.ErrAuthFailed
		}
		s.user = username
		s.f.mu.Lock()
		s.f.auth = append(s.f.auth, username)
		s.f.mu.Unlock()
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.d = delivery{from: from, user: s.user}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.f.rcptErr != nil {
		return s.f.rcptErr
	}
	s.d.rcpt = append(s.d.rcpt, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.d.data = b
	_, s.d.tls = s.conn.TLSConnectionState()
	s.f.mu.Lock()
	s.f.got = append(s.f.got, s.d)
	s.f.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.d = delivery{user: s.user} }
func (s *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost, and its
// PEM to trust it by.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "steward test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost", "mail.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func (f *smtpFake) config() *EmailConfig {
	return &EmailConfig{
		SMTP:     f.addr,
		From:     "Steward <steward@example.org>",
		To:       []string{"oncall@example.org", "Ops Team <ops@example.org>"},
		Username: smtpUser,
		Password: NewSecret(smtpPassword),
		CAFile:   f.caFile,
	}
}
