// Command register-sim plays a POS register and the peer it talks to,
// as the token hand-off is meant to work: the register takes the server's
// current license token from the License Desk agent's local API (and every
// newer one, through the long poll), and presents it to the peer; the peer
// verifies it offline with the agent's root-signed key set, fetched once
// and cached, checked against the root key it was configured with.
//
//	register-sim -socket ~/.config/licensedesk/agent.sock -root-key ed25519:… -every 5s
//
// Each presentation prints one JSON line: {"event":"accepted",…} or
// {"event":"rejected","reason":…}.
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/localapi"
	"licensedesk/licensecore/wire"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	socket, rootKey, cache, issuer string
	every, wait                    time.Duration
	count                          int
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("register-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.socket, "socket", os.Getenv("LICENSEDESK_SOCKET"), "the License Desk agent's socket")
	fs.StringVar(&o.rootKey, "root-key", os.Getenv("LICENSEDESK_ROOT_KEY"), "the Authorization server's root public key (ed25519:…)")
	fs.StringVar(&o.cache, "cache", "", "directory for the peer's cached key set (default: a temporary one)")
	fs.StringVar(&o.issuer, "issuer", "", "the Authorization server's URL (the tokens' iss); default: the agent's")
	fs.DurationVar(&o.every, "every", 5*time.Second, "present the current token again this often (as registers do on each sale)")
	fs.DurationVar(&o.wait, "wait", time.Minute, "longest long poll for a newer token")
	fs.IntVar(&o.count, "count", 0, "stop after this many presentations (0: run until interrupted)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	root, err := wire.ParseRootKey(o.rootKey)
	if err != nil || o.socket == "" {
		fmt.Fprintln(stderr, "register-sim: give -socket and -root-key")
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	cl, err := localapi.Dial(o.socket)
	if err != nil {
		fmt.Fprintf(stderr, "register-sim: %v\n", err)
		return 1
	}
	p, err := newPeer(ctx, cl, root, o)
	if err != nil {
		fmt.Fprintf(stderr, "register-sim: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	reg := &register{cl: cl, peer: p, out: enc, o: o}
	if err := reg.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "register-sim: %v\n", err)
		return 1
	}
	return 0
}

// peer verifies presented tokens offline: it never calls the agent or the
// authority after its key set is cached.
type peer struct {
	v *licensecore.Verifier
}

func newPeer(ctx context.Context, cl *localapi.Client, root ed25519.PublicKey, o options) (*peer, error) {
	dir := o.cache
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "register-sim-"); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, "jwks.jws")
	signed, err := os.ReadFile(path)
	if err != nil {
		ks, err := cl.JWKS(ctx)
		if err != nil {
			return nil, fmt.Errorf("the key set: %w", err)
		}
		signed = []byte(ks.JWS)
		if err := os.WriteFile(path, signed, 0o644); err != nil {
			return nil, err
		}
	}
	set, _, err := wire.VerifyKeySet(string(signed), root)
	if err != nil {
		return nil, fmt.Errorf("the cached key set is not signed by the root key: %w", err)
	}
	issuer := o.issuer
	if issuer == "" {
		ks, err := cl.JWKS(ctx)
		if err != nil {
			return nil, err
		}
		issuer = ks.Issuer
	}
	v, err := licensecore.NewVerifier(licensecore.VerifierOptions{Issuer: issuer, Audience: wire.DefaultAudience})
	if err != nil {
		return nil, err
	}
	if err := v.SetKeySet(set); err != nil {
		return nil, err
	}
	return &peer{v: v}, nil
}

// event is one presentation's outcome.
type event struct {
	Event    string    `json:"event"` // accepted | rejected
	JTI      string    `json:"jti,omitempty"`
	ServerID string    `json:"server_id,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Reason   string    `json:"reason,omitempty"`
	Message  string    `json:"message,omitempty"`
}

func (p *peer) present(token string) event {
	claims, err := p.v.Verify(token)
	if err != nil {
		return event{Event: "rejected", Reason: reason(err), Message: err.Error()}
	}
	return event{Event: "accepted", JTI: claims.ID, ServerID: claims.Subject, Expires: claims.ExpiresAt.Time}
}

// reason is a short machine-readable cause.
func reason(err error) string {
	switch {
	case errors.Is(err, licensecore.ErrTokenExpired):
		return "expired"
	case errors.Is(err, wire.ErrUnknownKey):
		return "unknown_key"
	default:
		return "invalid"
	}
}

// register follows the agent's token and presents it.
type register struct {
	cl   *localapi.Client
	peer *peer
	out  *json.Encoder
	o    options
	n    int
}

func (r *register) run(ctx context.Context) error {
	tok, err := r.cl.Token(ctx, "", 0)
	if err != nil {
		return err
	}
	for {
		if err := r.present(tok.Token); err != nil {
			return err
		}
		// A newer token, or the next presentation of this one.
		wctx, cancel := context.WithTimeout(ctx, r.o.every)
		next, err := r.cl.Token(wctx, tok.ID, min(r.o.every, r.o.wait))
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil && next.Token != "":
			tok = next
		}
	}
}

func (r *register) present(token string) error {
	if err := r.out.Encode(r.peer.present(token)); err != nil {
		return err
	}
	r.n++
	if r.o.count > 0 && r.n >= r.o.count {
		return context.Canceled
	}
	return nil
}
