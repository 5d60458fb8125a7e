package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"runtime"

	"github.com/steward-project/steward/server/internal/apiclient"
	"github.com/steward-project/steward/server/internal/apitypes"
)

// versionCommand prints this stewardctl's version and the server's (GET
// /api/v1/version). It is local so that the client's version prints
// even without a token or a server; it exits 1 when the server's version
// could not be learned, after printing the client's.
var versionCommand = command{
	name:    "version",
	summary: "print this stewardctl's version and the server's",
	local:   true,
	setup: func(fs *flag.FlagSet) runFunc {
		clientOnly := fs.Bool("client", false, "print only this stewardctl's version; do not ask the server")
		return func(ctx context.Context, s *session, _ []string) error {
			return printVersion(ctx, s, *clientOnly)
		}
	},
}

func printVersion(ctx context.Context, s *session, clientOnly bool) error {
	client := apitypes.Version{Version: s.version, GoVersion: runtime.Version()}
	if client.Version == "" {
		client.Version = "dev"
	}
	var server *apitypes.Version
	var serverErr error
	serverURL := s.server
	if !clientOnly {
		server, serverURL, serverErr = serverVersion(ctx, s)
	}
	if s.output == outputJSON {
		out := struct {
			Client      apitypes.Version  `json:"client"`
			Server      *apitypes.Version `json:"server,omitempty"`
			ServerURL   string            `json:"server_url,omitempty"`
			ServerError string            `json:"server_error,omitempty"`
		}{Client: client, Server: server}
		if !clientOnly {
			out.ServerURL = serverURL
		}
		if serverErr != nil {
			out.ServerError = describe(serverErr)
		}
		if err := printJSON(s.out, out); err != nil {
			return err
		}
		return serverErr
	}
	tw := newTable(s.out)
	tw.kv("Client", client.Version+" ("+client.GoVersion+")")
	switch {
	case clientOnly:
	case serverErr != nil:
		tw.kv("Server", serverProblem(serverErr)+" at "+serverURL)
	default:
		tw.kv("Server", server.Version+" ("+server.GoVersion+") at "+serverURL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return serverErr
}

// serverVersion asks the server for its version. Any failure, a missing
// token included, is an ordinary error (exit 1): the client's version is
// printed all the same.
func serverVersion(ctx context.Context, s *session) (*apitypes.Version, string, error) {
	c, err := s.connect()
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			err = errors.New(ue.msg)
		}
		return nil, s.server, fmt.Errorf("server version: %w", err)
	}
	raw, err := c.Get(ctx, "/api/v1/version", nil)
	if err != nil {
		return nil, c.BaseURL(), err
	}
	var v apitypes.Version
	if err := json.Unmarshal(raw, &v); err != nil || v.Version == "" {
		return nil, c.BaseURL(), fmt.Errorf("GET /api/v1/version: the answer has no version")
	}
	return &v, c.BaseURL(), nil
}

// serverProblem is the short form of why the server's version is unknown;
// the error itself follows on stderr.
func serverProblem(err error) string {
	var ce *apiclient.ConnError
	var se *apiclient.StatusError
	switch {
	case errors.As(err, &ce):
		return "unreachable"
	case errors.As(err, &se) && se.Status == http.StatusNotFound:
		return "unknown (the server predates GET /api/v1/version)"
	case errors.As(err, &se) && se.Status == http.StatusUnauthorized:
		return "unknown (token refused)"
	}
	return "unknown (see below)"
}
