package ctl

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// defaultSignatureExpiry is how long a signed set stays acceptable to
// agents that have not taken it yet, unless --expires says otherwise.
const defaultSignatureExpiry = "90d"

// keysGenerateCommand writes a new policy signing key pair. It is local:
// the private key never goes near the server.
var keysGenerateCommand = command{
	name:    "keys generate",
	summary: "write a new ed25519 key pair for signing policy sets (PREFIX.key, PREFIX.pub)",
	local:   true,
	setup: func(fs *flag.FlagSet) runFunc {
		out := fs.String("out", "", "path prefix of the key files (required): PREFIX.key (private, 0600) and PREFIX.pub")
		return func(_ context.Context, s *session, _ []string) error {
			return keysGenerate(s, *out)
		}
	},
}

// keysGenerate writes PREFIX.key, the private key as a PKCS #8 PEM block
// (mode 0600), and PREFIX.pub, the public key as a PKIX PEM block, and
// prints the line agents pin. Existing files are never overwritten.
func keysGenerate(s *session, prefix string) error {
	if prefix == "" {
		return &usageError{msg: "keys generate needs --out PREFIX"}
	}
	pub, priv, err := policysign.GenerateKey()
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	privPEM, err := policysign.MarshalPrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	pubPEM, err := policysign.MarshalPublicKey(pub)
	if err != nil {
		return fmt.Errorf("encode public key: %w", err)
	}
	for _, p := range []string{prefix + ".key", prefix + ".pub"} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists; not overwriting a key", p)
		}
	}
	if err := writeNew(prefix+".key", privPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(prefix+".pub", pubPEM, 0o644); err != nil {
		os.Remove(prefix + ".key")
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, map[string]string{"private_key_file": prefix + ".key", "public_key_file": prefix + ".pub",
			"key_id": policysign.KeyID(pub), "policy_public_key": policysign.EncodePublicKey(pub)})
	}
	_, err = fmt.Fprintf(s.out, "Private key: %s (keep it off the server; anyone holding it can sign policy sets)\n"+
		"Public key:  %s\nKey ID:      %s\n\nPin it in each agent's configuration file:\n  policy_public_key: %s\n",
		prefix+".key", prefix+".pub", policysign.KeyID(pub), policysign.EncodePublicKey(pub))
	return err
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}

// readSigningKey reads a private key file written by keys generate.
func readSigningKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	key, err := policysign.ParsePrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, nil
}

// signOptions are policies apply's signing flags.
type signOptions struct {
	keyFile string
	expires string
}

// policiesApplySigned replaces the whole policy set with the policies of
// the files given, signed: the signature covers exactly the set agents
// evaluate, so policies on the server that are not in the files are
// deleted. The files are checked with the server first (validate_only), so
// problems are shown with the local path and line as for an unsigned
// apply; then one request replaces the set.
func policiesApplySigned(ctx context.Context, s *session, paths []string, validateOnly bool, o signOptions) error {
	if len(paths) == 0 {
		return &usageError{msg: "policies apply needs -f FILE or -f DIR"}
	}
	key, err := readSigningKey(o.keyFile)
	if err != nil {
		return err
	}
	now := s.now()
	expiry := o.expires
	if expiry == "" {
		expiry = defaultSignatureExpiry
	}
	expiresAt, err := parseExpiry(expiry, now)
	if err != nil {
		return &usageError{msg: "--expires: " + err.Error()}
	}
	if !expiresAt.After(now) {
		return &usageError{msg: fmt.Sprintf("--expires %s is not in the future: agents would refuse the set", expiresAt.Format(time.RFC3339))}
	}
	files, err := readPolicyFiles(paths)
	if err != nil {
		return err
	}
	// One validate_only request checks every file, and ids across them.
	if _, err := sendPolicyFiles(ctx, s, files, true); err != nil {
		return err
	}
	var all []policy.Policy
	for _, f := range files {
		ps, err := policy.Parse(f.path, f.data)
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		all = append(all, ps...)
	}
	if err := previousSignerAhead(ctx, s, now); err != nil {
		return err
	}
	// The signature covers the server's tailorings too; one changed
	// before the set arrives makes the server refuse the signature.
	tailorings, err := serverTailorings(ctx, s)
	if err != nil {
		return err
	}
	sig, err := policysign.SignSet(key, policysign.AgentPolicies(all), tailorings, now, expiresAt)
	if err != nil {
		return err
	}
	if all == nil {
		all = []policy.Policy{}
	}
	list, err := json.Marshal(all)
	if err != nil {
		return fmt.Errorf("encode policies: %w", err)
	}
	body, err := json.Marshal(apitypes.PolicySetReplace{Policies: list, Signature: sig})
	if err != nil {
		return fmt.Errorf("encode policy set: %w", err)
	}
	q := url.Values{}
	if validateOnly {
		q.Set("validate_only", "true")
	}
	raw, err := s.client.Send(ctx, http.MethodPut, "/api/v1/policies", q, "application/json", body)
	if ps, ok := refusedFile(err); ok {
		for _, p := range ps {
			fmt.Fprintln(s.errOut, p.String())
		}
		return &problemsError{problems: len(ps), files: len(files)}
	}
	if err != nil {
		return err
	}
	var res apitypes.ApplyResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	st, _ := policysign.ParseStatement(sig.Statement)
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			apitypes.ApplyResult
			KeyID     string    `json:"key_id"`
			Serial    uint64    `json:"serial"`
			ExpiresAt time.Time `json:"expires_at"`
		}{res, st.KeyID, st.Serial, st.ExpiresAt})
	}
	tw := newTable(s.out)
	tw.row("POLICY", "CHANGE")
	verb := map[bool][3]string{false: {"added", "updated", "deleted"}, true: {"would be added", "would be updated", "would be deleted"}}[validateOnly]
	for _, row := range []struct {
		ids  []string
		what string
	}{{res.Added, verb[0]}, {res.Updated, verb[1]}, {res.Deleted, verb[2]}, {res.Unchanged, "unchanged"}} {
		for _, id := range row.ids {
			tw.row(id, row.what)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	what := "Policy set revision %d, signed with key %s (serial %d), acceptable to agents until %s.\n"
	if validateOnly {
		what = "Valid; nothing applied (applying would make revision %d, signed with key %s, serial %d, acceptable until %s).\n"
	}
	_, err = fmt.Fprintf(s.out, what, res.Revision, st.KeyID, st.Serial, st.ExpiresAt.Format(time.RFC3339))
	return err
}

// previousSignerAhead refuses to sign when the set on the server was
// signed at a time after this machine's clock: agents that took it would
// refuse the new set as a rollback. The server's answer is only used to
// refuse, never to choose the serial.
func previousSignerAhead(ctx context.Context, s *session, now time.Time) error {
	raw, err := s.client.Get(ctx, "/api/v1/policies", url.Values{"limit": {"1"}})
	if err != nil {
		return err
	}
	var list apitypes.PolicyList
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decode policy list: %w", err)
	}
	if list.Signature != nil && list.Signature.Serial >= uint64(now.UnixNano()) {
		return fmt.Errorf("the current set was signed at %s (key %s), later than this machine's clock (%s): agents would refuse a set signed now as a rollback; fix the clock",
			list.Signature.SignedAt.Format(time.RFC3339Nano), list.Signature.KeyID, now.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// refusalCell is how hosts show prints a policy set refusal.
func refusalCell(r *apitypes.PolicyRefusal) string {
	return fmt.Sprintf("revision %d refused at %s: %s (%s); the previous set stays in force",
		r.Revision, timeCell(r.At, "-"), r.Code, r.Reason)
}
