package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mdp/qrterminal/v3"
	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/localapi"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

// Exit codes of the CLI beyond status's 0–3.
const (
	exitFailed  = 1 // the action failed; the reason is on stderr
	exitUsage   = 2
	exitNoAgent = 4 // no agent answers and none could be started
)

// runCLI runs the commands that act through the agent: each is one call
// of the local API, worded here for a person or a script.
func runCLI(cfg Config, stdin io.Reader, stdout, stderr io.Writer) int {
	connect := connectAgent
	if cfg.Command == "login" { // licensing a fresh, headless PC needs no other step
		connect = func(cfg Config) (*localapi.Client, error) { return ensureAgent(cfg, zerolog.Nop()) }
	}
	cl, err := connect(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "licensedesk: %s\n", plain.Explain(err))
		return exitNoAgent
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "licensedesk %s: %s\n", cfg.Command, plain.Explain(err))
		return exitFailed
	}
	switch cfg.Command {
	case "token":
		return cliToken(ctx, cfg, cl, stdout, fail)
	case "verify":
		return cliVerify(ctx, cfg, cl, stdin, stdout, stderr, fail)
	case "login":
		return cliLogin(ctx, cl, stdout, fail)
	case "refresh":
		st, err := cl.RefreshNow(ctx)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "Token refreshed; valid until %s.\n", st.License.TokenExpiry.Local().Format("Mon 2 Jan 2006 15:04"))
	case "check":
		st, err := cl.Verify(ctx)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "The Authorization server confirmed the license: %s.\n", st.State)
	case "download":
		_, changes, err := cl.DownloadLicense(ctx)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, plain.DescribeChanges(changes))
	case "remove":
		sess, err := cliAdmin(cfg, cl, stdin, stderr)
		if err != nil {
			return fail(err)
		}
		if err := cl.Remove(ctx, sess, licensecore.RemoveOptions{}); err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, "The license was removed from this server.")
	case "stop":
		if err := cl.Stop(ctx); err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, "The License Desk agent is stopping.")
	default:
		fmt.Fprintf(stderr, "licensedesk: unknown command %q\n", cfg.Command)
		return exitUsage
	}
	return 0
}

// cliToken prints the current license token: the bare JWT for scripts
// (`curl -H "Authorization: Bearer $(licensedesk token)"`), or its details
// with -json. With -after ID it waits until a newer token exists.
func cliToken(ctx context.Context, cfg Config, cl *localapi.Client, stdout io.Writer, fail func(error) int) int {
	tok, err := cl.Token(ctx, cfg.After, cfg.Wait)
	if err != nil {
		return fail(err)
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(tok); err != nil {
			return exitFailed
		}
		return 0
	}
	fmt.Fprintln(stdout, tok.Token)
	return 0
}

// cliVerify checks a peer's token (argument or standard input) with the
// cached, root-signed key set, as a register would.
func cliVerify(ctx context.Context, cfg Config, cl *localapi.Client, stdin io.Reader, stdout, stderr io.Writer, fail func(error) int) int {
	token := ""
	if len(cfg.Args) > 0 {
		token = cfg.Args[0]
	} else {
		line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fail(err)
		}
		token = strings.TrimSpace(line)
	}
	if token == "" {
		fmt.Fprintln(stderr, "licensedesk verify: give the token as an argument or on standard input")
		return exitUsage
	}
	claims, err := cl.VerifyToken(ctx, localapi.VerifyRequest{Token: token})
	if err != nil && !errors.Is(err, licensecore.ErrTokenInvalid) && !errors.Is(err, wire.ErrUnknownKey) {
		return fail(err) // the agent could not tell
	}
	if cfg.JSON {
		doc := verifyJSON{Valid: err == nil, Claims: claims}
		if err != nil {
			doc.Reason = plain.Explain(err)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
	} else if err != nil {
		fmt.Fprintf(stdout, "Refused: %s\n", plain.Explain(err))
	} else {
		fmt.Fprintf(stdout, "Valid: Server ID %s, expires %s.\n", claims.Subject, claims.ExpiresAt.Time.Local().Format("Mon 2 Jan 2006 15:04"))
	}
	if err != nil {
		return exitFailed
	}
	return 0
}

// verifyJSON is `verify -json`: the claims of a valid token, or the reason
// in words.
type verifyJSON struct {
	Valid  bool         `json:"valid"`
	Claims *wire.Claims `json:"claims,omitempty"`
	Reason string       `json:"reason,omitempty"`
}

// cliLogin is the device flow in a terminal: the address, the user code
// and a QR of the address with the code, then it waits for the approval.
func cliLogin(ctx context.Context, cl *localapi.Client, stdout io.Writer, fail func(error) int) int {
	da, err := cl.StartDeviceAuth(ctx)
	if err != nil {
		return fail(err)
	}
	name, install := cl.DeviceIdentity()
	fmt.Fprintf(stdout, "To license this server (%s, install code %s):\n\n", name, install)
	fmt.Fprintf(stdout, "  1. Open %s on any computer or phone and sign in.\n", da.VerificationURI)
	fmt.Fprintf(stdout, "  2. Enter the code  %s  and choose this server in the Device list.\n\n", da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintln(stdout, "Or scan this code with a phone:")
		qrterminal.GenerateHalfBlock(da.VerificationURIComplete, qrterminal.L, stdout)
	}
	fmt.Fprintf(stdout, "\nWaiting for the approval (the code expires at %s)…\n", da.Expiry.Local().Format("15:04"))
	st, err := cl.CompleteDeviceAuth(ctx, da)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "Licensed: Server ID %s, token valid until %s.\n", st.License.ServerID, st.License.TokenExpiry.Local().Format("Mon 2 Jan 2006 15:04"))
	return 0
}

// cliAdmin logs the System Administrator in for a CLI action: -user, and
// the password from LICENSEDESK_ADMIN_PASSWORD or the first line of input.
func cliAdmin(cfg Config, cl *localapi.Client, stdin io.Reader, stderr io.Writer) (*licensecore.AdminSession, error) {
	if cfg.User == "" {
		return nil, errors.New("this action needs a System Administrator: give -user NAME (the password is read from LICENSEDESK_ADMIN_PASSWORD or standard input)")
	}
	pw := os.Getenv("LICENSEDESK_ADMIN_PASSWORD")
	if pw == "" {
		fmt.Fprintf(stderr, "Password for %s: ", cfg.User)
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	return cl.AdminLogin(cfg.User, pw)
}
