package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/api/apitest"
	"github.com/steward-project/steward/server/internal/apiclient"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

func TestNewValidatesURL(t *testing.T) {
	cases := []struct {
		url, wantBase string
		ok            bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"https://steward.example.com/", "https://steward.example.com", true},
		{"https://proxy.example.com/steward/", "https://proxy.example.com/steward", true},
		{"127.0.0.1:8080", "", false},
		{"localhost", "", false},
		{"ftp://example.com", "", false},
		{"http://", "", false},
		{"http://h/?token=x", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			c, err := apiclient.New(tc.url, "t", nil)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && c.BaseURL() != tc.wantBase {
				t.Errorf("base %q, want %q", c.BaseURL(), tc.wantBase)
			}
		})
	}
}

func TestGetAgainstTheAPI(t *testing.T) {
	st := apitest.NewStore()
	st.AddHost(store.Host{ID: 7, Hostname: "web-7", EnrolledAt: apitest.Now})
	srv := apitest.NewServer(t, st)
	ctx := context.Background()

	t.Run("ok", func(t *testing.T) {
		c, _ := apiclient.New(srv.URL, apitest.Token, srv.Client())
		raw, err := c.Get(ctx, "/api/v1/hosts", url.Values{"limit": {"5"}})
		if err != nil {
			t.Fatal(err)
		}
		var list apitypes.HostList
		if err := json.Unmarshal(raw, &list); err != nil || len(list.Hosts) != 1 || list.Hosts[0].Hostname != "web-7" {
			t.Fatalf("list %+v err %v", list, err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		c, _ := apiclient.New(srv.URL, "wrong", srv.Client())
		_, err := c.Get(ctx, "/api/v1/hosts", nil)
		var se *apiclient.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !strings.Contains(se.Message, "token") {
			t.Fatalf("err %v, want a 401 StatusError about the token", err)
		}
	})
	t.Run("not found carries the API message", func(t *testing.T) {
		c, _ := apiclient.New(srv.URL, apitest.Token, srv.Client())
		_, err := c.Get(ctx, "/api/v1/hosts/8", nil)
		var se *apiclient.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound || se.Message != "host 8 not found" || se.Path != "/api/v1/hosts/8" {
			t.Fatalf("err %#v", err)
		}
	})
	t.Run("behind a path prefix", func(t *testing.T) {
		proxy := httptest.NewServer(http.StripPrefix("/steward", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.Config.Handler.ServeHTTP(w, r)
		})))
		defer proxy.Close()
		c, _ := apiclient.New(proxy.URL+"/steward/", apitest.Token, proxy.Client())
		if _, err := c.Get(ctx, "/api/v1/hosts/7", nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNotTheAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>502 Bad Gateway</html>\n<body>nginx</body>")
			return
		}
		io.WriteString(w, "<html>router login</html>")
	}))
	defer srv.Close()
	c, _ := apiclient.New(srv.URL, "t", srv.Client())

	if _, err := c.Get(context.Background(), "/api/v1/hosts", nil); !errors.Is(err, apiclient.ErrNotJSON) {
		t.Errorf("HTML 200: err %v, want ErrNotJSON", err)
	}
	_, err := c.Get(context.Background(), "/down", nil)
	var se *apiclient.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadGateway || se.Message != "<html>502 Bad Gateway</html>" {
		t.Errorf("HTML 502: err %#v", err)
	}
}

func TestConnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	c, _ := apiclient.New(base, "t", nil)
	_, err = c.Get(context.Background(), "/api/v1/hosts", nil)
	var ce *apiclient.ConnError
	if !errors.As(err, &ce) || ce.URL != base {
		t.Fatalf("err %v, want a ConnError for %s", err, base)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Errorf("ConnError does not unwrap to the dial error: %v", err)
	}
}

func TestDoSendsJSONBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"error":"bad request shape"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.Copy(w, r.Body)
	}))
	defer srv.Close()
	c, _ := apiclient.New(srv.URL, "tok", srv.Client())
	raw, err := c.Do(context.Background(), http.MethodPost, "/echo", nil, map[string]string{"id": "ssh-no-root"})
	if err != nil || string(raw) != `{"id":"ssh-no-root"}` {
		t.Fatalf("raw %s err %v", raw, err)
	}
}
