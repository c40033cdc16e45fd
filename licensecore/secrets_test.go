package licensecore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/zalando/go-keyring"
)

// testKeyringService is a Secret Service item service of its own for one
// test, removed when the test ends. Without a Secret Service the test is
// skipped, unless LICENSEDESK_KEYRING is set (make test starts
// gnome-keyring and sets it): then it fails.
func testKeyringService(t *testing.T) string {
	t.Helper()
	service := "License Desk test " + randomHex(6)
	if err := ProbeOSSecrets(service); err != nil {
		if os.Getenv("LICENSEDESK_KEYRING") != "" {
			t.Fatalf("LICENSEDESK_KEYRING is set but the credential store does not work: %v", err)
		}
		t.Skipf("no credential store (set LICENSEDESK_KEYRING=1 to make this a failure): %v", err)
	}
	t.Cleanup(func() {
		if err := keyring.DeleteAll(service); err != nil {
			t.Errorf("remove the test items: %v", err)
		}
	})
	return service
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	mustNil(t, err)
	return b
}

// checkSecretsRoundTrip is what every Secrets must do.
func checkSecretsRoundTrip(t *testing.T, sec Secrets) {
	t.Helper()
	if _, err := sec.Get(SecretStoreKey); !errors.Is(err, ErrNotStored) {
		t.Fatalf("Get before Set = %v, want ErrNotStored", err)
	}
	a, b := randomBytes(t, 32), append([]byte{0, 0xff, '\n'}, randomBytes(t, 29)...) // not text
	mustNil(t, sec.Set(SecretStoreKey, a))
	mustNil(t, sec.Set(SecretInstallKey, b))
	for name, want := range map[string][]byte{SecretStoreKey: a, SecretInstallKey: b} {
		if got, err := sec.Get(name); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Get(%s) = %x, %v; want %x", name, got, err, want)
		}
	}
	c := randomBytes(t, 32)
	mustNil(t, sec.Set(SecretStoreKey, c))
	if got, err := sec.Get(SecretStoreKey); err != nil || !bytes.Equal(got, c) {
		t.Errorf("after a second Set: %x, %v; want %x", got, err, c)
	}
	if got, err := sec.Get(SecretInstallKey); err != nil || !bytes.Equal(got, b) {
		t.Errorf("a Set changed another name: %x, %v", got, err)
	}
}

func TestSecretsOSRoundTrip(t *testing.T) {
	service := testKeyringService(t)
	sec := OSSecrets(service, "/data/one")
	checkSecretsRoundTrip(t, sec)
	if runtime.GOOS == "linux" && sec.Kind() != "Secret Service" {
		t.Errorf("Kind() = %q", sec.Kind())
	}
	// Another data directory (account) of the same service sees nothing.
	if _, err := OSSecrets(service, "/data/two").Get(SecretStoreKey); !errors.Is(err, ErrNotStored) {
		t.Errorf("another account: %v, want ErrNotStored", err)
	}
	// What the credential store holds is base64 of the value.
	raw, err := keyring.Get(service, "/data/one/"+SecretInstallKey)
	mustNil(t, err)
	if v, err := base64.StdEncoding.DecodeString(raw); err != nil || len(v) != 32 {
		t.Errorf("stored item %q: %v", raw, err)
	}
	mustNil(t, keyring.Set(service, "/data/one/broken", "not base64!"))
	if _, err := sec.Get("broken"); !errors.Is(err, ErrStoreCorrupt) {
		t.Errorf("an item that is not base64: %v, want ErrStoreCorrupt", err)
	}
}

func TestSecretsProbeWithoutSessionBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the session bus guard is for the Secret Service")
	}
	if _, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "bus")); err == nil {
		t.Skip("this PC has a default session bus")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if err := ProbeOSSecrets("License Desk test"); err == nil {
		t.Fatal("the probe succeeded without a session bus")
	}
	if _, err := OSSecrets("License Desk test", "x").Get(SecretStoreKey); err == nil || errors.Is(err, ErrNotStored) {
		t.Fatalf("Get without a session bus = %v, want a failure", err)
	}
}

func TestSecretsFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sec := FileSecrets(dir, "machine-a")
	checkSecretsRoundTrip(t, sec)
	if sec.Kind() != SecretsKindFile {
		t.Errorf("Kind() = %q", sec.Kind())
	}
	path := filepath.Join(dir, SecretsFileName)
	checkLocalFile(t, path, len(secretsMagic)+secretsSaltLen, 0)
	// A new instance (a restart) on the same PC reads the same values.
	want, err := sec.Get(SecretInstallKey)
	mustNil(t, err)
	if got, err := FileSecrets(dir, "machine-a").Get(SecretInstallKey); err != nil || !bytes.Equal(got, want) {
		t.Errorf("after a restart: %x, %v", got, err)
	}
	// The values are not in the file, in clear or base64.
	raw, err := os.ReadFile(path)
	mustNil(t, err)
	if bytes.Contains(raw, want) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(want))) {
		t.Error("the install key is readable in the file")
	}
	if _, err := FileSecrets(dir, "").Get(SecretStoreKey); err == nil {
		t.Error("an empty machine id opened the file")
	}
}

func TestSecretsFileAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SecretsFileName)
	sec := FileSecrets(dir, "machine-a")
	mustNil(t, sec.Set(SecretStoreKey, []byte("first")))
	before, err := os.Stat(path)
	mustNil(t, err)
	// On Windows os.Stat reads the file's id when first compared, by path:
	// compare now, while the path is still the first file.
	_ = os.SameFile(before, before)
	mustNil(t, sec.Set(SecretStoreKey, []byte("second")))
	after, err := os.Stat(path)
	mustNil(t, err)
	if os.SameFile(before, after) {
		t.Error("the file was rewritten in place, not replaced by a rename")
	}
	// A crash between writing the temporary file and the rename leaves the
	// old file, which still reads.
	mustNil(t, os.WriteFile(path+".12345.tmp", []byte("half a write"), 0o600))
	if got, err := sec.Get(SecretStoreKey); err != nil || string(got) != "second" {
		t.Errorf("with a leftover temporary file: %q, %v", got, err)
	}
	// Concurrent Sets all land, and leave no temporary file behind.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := sec.Set("n"+strconv.Itoa(i), []byte{byte(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range 8 {
		if got, err := sec.Get("n" + strconv.Itoa(i)); err != nil || !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("n%d = %x, %v", i, got, err)
		}
	}
	entries, err := os.ReadDir(dir)
	mustNil(t, err)
	for _, e := range entries {
		if e.Name() != SecretsFileName && e.Name() != SecretsFileName+".12345.tmp" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestSecretsFileRefusesAnotherMachine(t *testing.T) {
	dir := t.TempDir()
	secret := randomBytes(t, 32)
	mustNil(t, FileSecrets(dir, "machine-a").Set(SecretInstallKey, secret))
	orig, err := os.ReadFile(filepath.Join(dir, SecretsFileName))
	mustNil(t, err)

	copied := t.TempDir()
	mustNil(t, os.WriteFile(filepath.Join(copied, SecretsFileName), orig, 0o600))
	other := FileSecrets(copied, "machine-b")
	if v, err := other.Get(SecretInstallKey); !errors.Is(err, ErrSecretsForeign) || v != nil {
		t.Errorf("Get on another machine = %x, %v; want ErrSecretsForeign", v, err)
	}
	if _, err := other.Get("anything"); !errors.Is(err, ErrSecretsForeign) {
		t.Errorf("Get of an absent name on another machine = %v; want ErrSecretsForeign", err)
	}
	// Nor does the other machine overwrite the file with its own keys.
	if err := other.Set(SecretInstallKey, randomBytes(t, 32)); !errors.Is(err, ErrSecretsForeign) {
		t.Errorf("Set on another machine = %v; want ErrSecretsForeign", err)
	}
	if now, _ := os.ReadFile(filepath.Join(copied, SecretsFileName)); !bytes.Equal(now, orig) {
		t.Error("the other machine changed the file")
	}
	// The original machine still reads it.
	if v, err := FileSecrets(copied, "machine-a").Get(SecretInstallKey); err != nil || !bytes.Equal(v, secret) {
		t.Errorf("back on the first machine: %x, %v", v, err)
	}

	bad := func(name string, raw []byte, want error) {
		t.Helper()
		d := t.TempDir()
		mustNil(t, os.WriteFile(filepath.Join(d, SecretsFileName), raw, 0o600))
		if _, err := FileSecrets(d, "machine-a").Get(SecretInstallKey); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	flipped := bytes.Clone(orig)
	flipped[len(flipped)-1] ^= 1
	bad("one bit changed", flipped, ErrSecretsForeign)
	salted := bytes.Clone(orig)
	salted[len(secretsMagic)] ^= 1
	bad("salt changed", salted, ErrSecretsForeign)
	bad("not a secrets file", []byte("hello"), ErrStoreCorrupt)
	bad("truncated", orig[:len(secretsMagic)+secretsSaltLen+4], ErrStoreCorrupt)
}

// failingSecrets is a Secrets whose Set fails.
type failingSecrets struct{ Secrets }

func (failingSecrets) Set(string, []byte) error { return errors.New("the keyring is read-only today") }

func TestSecretsStoreKeyMovesFromKeyFile(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "store")
	keyFile := dir + ".key"
	s := openTestStore(t, StoreOptions{Dir: dir}) // an earlier version: key file only
	mustNil(t, s.SetSetting("x", "y"))
	mustNil(t, s.Close())
	oldKey, err := readLocalKey(keyFile)
	mustNil(t, err)
	sec := FileSecrets(data, "machine-a")

	// While another process holds the store, nothing moves.
	holder := openTestStore(t, StoreOptions{Dir: dir})
	if _, err := OpenStore(StoreOptions{Dir: dir, Secrets: sec}); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("open while held = %v, want ErrAlreadyRunning", err)
	}
	mustNil(t, holder.Close())
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("the key file went before the store opened: %v", err)
	}

	// A credential store that refuses the key: the store opens, the file stays.
	s = openTestStore(t, StoreOptions{Dir: dir, Secrets: failingSecrets{sec}})
	mustNil(t, s.Close())
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("the key file went though Secrets did not take the key: %v", err)
	}

	s = openTestStore(t, StoreOptions{Dir: dir, Secrets: sec})
	if v, err := s.Setting("x"); err != nil || v != "y" {
		t.Errorf("after the move: %q, %v", v, err)
	}
	if got, err := sec.Get(SecretStoreKey); err != nil || !bytes.Equal(got, oldKey) {
		t.Errorf("store key in Secrets = %x, %v; want the file's", got, err)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the key file is still there: %v", err)
	}
	s = reopenWith(t, s, StoreOptions{Dir: dir, Secrets: sec})
	if v, err := s.Setting("x"); err != nil || v != "y" {
		t.Errorf("after a restart: %q, %v", v, err)
	}
}

func TestSecretsStoreKeyFirstRun(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "store")
	sec := FileSecrets(data, "machine-a")
	s := openTestStore(t, StoreOptions{Dir: dir, Secrets: sec})
	mustNil(t, s.SetSetting("x", "y"))
	if key, err := sec.Get(SecretStoreKey); err != nil || len(key) != 32 {
		t.Fatalf("store key in Secrets: %d bytes, %v", len(key), err)
	}
	if _, err := os.Stat(dir + ".key"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key file is left: %v", err)
	}
	s = reopenWith(t, s, StoreOptions{Dir: dir, Secrets: sec})
	if v, err := s.Setting("x"); err != nil || v != "y" {
		t.Errorf("after a restart: %q, %v", v, err)
	}
	// A stale key file of something else is tried after Secrets' key and
	// left alone.
	mustNil(t, os.WriteFile(dir+".key", bytes.Repeat([]byte{7}, 32), 0o600))
	reopenWith(t, s, StoreOptions{Dir: dir, Secrets: sec})
	if _, err := os.Stat(dir + ".key"); err != nil {
		t.Errorf("a key file that does not open the store was removed: %v", err)
	}
}

func TestSecretsStoreKeyWrongInSecrets(t *testing.T) {
	// Secrets holds another key (say, an older install at the same path)
	// while the key file opens the store: the file's key wins and moves.
	data := t.TempDir()
	dir := filepath.Join(data, "store")
	s := openTestStore(t, StoreOptions{Dir: dir})
	mustNil(t, s.SetSetting("x", "y"))
	mustNil(t, s.Close())
	fileKey, err := readLocalKey(dir + ".key")
	mustNil(t, err)
	sec := FileSecrets(data, "machine-a")
	mustNil(t, sec.Set(SecretStoreKey, bytes.Repeat([]byte{9}, 32)))
	s = openTestStore(t, StoreOptions{Dir: dir, Secrets: sec})
	if v, err := s.Setting("x"); err != nil || v != "y" {
		t.Errorf("%q, %v", v, err)
	}
	if got, _ := sec.Get(SecretStoreKey); !bytes.Equal(got, fileKey) {
		t.Error("Secrets kept the key that does not open the store")
	}
	// Without the file, the wrong key is refused as a damaged store.
	mustNil(t, s.Close())
	mustNil(t, sec.Set(SecretStoreKey, bytes.Repeat([]byte{9}, 32)))
	if _, err := OpenStore(StoreOptions{Dir: dir, Secrets: sec}); !errors.Is(err, ErrStoreCorrupt) {
		t.Errorf("a wrong key in Secrets = %v, want ErrStoreCorrupt", err)
	}
}

func TestSecretsInstallKeyMovesFromStore(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "store")
	s := openTestStore(t, StoreOptions{Dir: dir}) // an earlier version
	k1, err := s.InstallKey()
	mustNil(t, err)
	if _, err := s.get(keyInstallKey); err != nil {
		t.Fatalf("without Secrets the key is sealed in the store: %v", err)
	}
	s = reopen(t, s)
	if k, err := s.InstallKey(); err != nil || !k.Equal(k1) {
		t.Fatalf("without Secrets, after a restart: %v", err)
	}

	sec := FileSecrets(data, "machine-a")
	s = reopenWith(t, s, StoreOptions{Dir: dir, Secrets: sec})
	k2, err := s.InstallKey()
	mustNil(t, err)
	if !k2.Equal(k1) {
		t.Fatal("the installation key changed when it moved")
	}
	if seed, err := sec.Get(SecretInstallKey); err != nil || !bytes.Equal(seed, k1.Seed()) {
		t.Errorf("seed in Secrets: %v", err)
	}
	if _, err := s.get(keyInstallKey); !errors.Is(err, ErrNotStored) {
		t.Errorf("the store still holds the installation key: %v", err)
	}
	s = reopenWith(t, s, StoreOptions{Dir: dir, Secrets: sec})
	if k, err := s.InstallKey(); err != nil || !k.Equal(k1) {
		t.Errorf("after a restart: %v", err)
	}
}

func TestSecretsInstallKeyConcurrentFirstUse(t *testing.T) {
	data := t.TempDir()
	sec := FileSecrets(data, "machine-a")
	s := openTestStore(t, StoreOptions{Dir: filepath.Join(data, "store"), Secrets: sec})
	keys := make([]ed25519.PrivateKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := s.InstallKey()
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !k.Equal(keys[0]) {
			t.Fatal("concurrent first uses made different keys")
		}
	}
	if seed, err := sec.Get(SecretInstallKey); err != nil || !bytes.Equal(seed, keys[0].Seed()) {
		t.Errorf("seed in Secrets: %v", err)
	}
	if _, err := s.get(keyInstallKey); !errors.Is(err, ErrNotStored) {
		t.Errorf("with Secrets the store holds an installation key: %v", err)
	}
}

// pcDataDir is a data directory of one "PC": its store, its keys in sec.
type pcDataDir struct {
	data string
	sec  Secrets
}

func (p pcDataDir) open() (*Store, error) {
	return OpenStore(StoreOptions{Dir: filepath.Join(p.data, "store"), Secrets: p.sec})
}

// licensedPC makes a data directory with a license and an installation
// key, as the app leaves it, from an earlier version's layout (key file,
// key in the store) so the copy also proves the move leaves nothing behind.
func licensedPC(t *testing.T, sec func(data string) Secrets) (pcDataDir, ed25519.PrivateKey) {
	t.Helper()
	data := t.TempDir()
	old := openTestStore(t, StoreOptions{Dir: filepath.Join(data, "store")})
	l, toks, set := sampleLicense(t)
	mustNil(t, old.SaveLicense(l, toks, set))
	_, err := old.InstallKey()
	mustNil(t, err)
	mustNil(t, old.Close())

	pc := pcDataDir{data: data, sec: sec(data)}
	s, err := pc.open()
	mustNil(t, err)
	k, err := s.InstallKey()
	mustNil(t, err)
	mustNil(t, s.Close())
	return pc, k
}

// copyTree copies the directory src to dst (a new directory).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o600)
	})
	mustNil(t, err)
}

// checkCopyUseless copies pc's data directory to a second PC whose keys
// are in sec2 and checks that it opens nothing there and leaves no key,
// while the first PC keeps working.
func checkCopyUseless(t *testing.T, pc pcDataDir, ik ed25519.PrivateKey, sec2 func(data string) Secrets, want error) {
	t.Helper()
	copied := filepath.Join(t.TempDir(), "licensedesk")
	copyTree(t, pc.data, copied)
	// Nothing of the keys is in the copied files: not the store key, not
	// the installation key, in clear or base64.
	storeKey, err := pc.sec.Get(SecretStoreKey)
	mustNil(t, err)
	_ = filepath.WalkDir(copied, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, _ := os.ReadFile(p)
		for what, secret := range map[string][]byte{"store key": storeKey, "installation key": ik.Seed()} {
			if bytes.Contains(raw, secret) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(secret))) {
				t.Errorf("the %s is in the copied file %s", what, p)
			}
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(copied, "store.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the copy has a key file: %v", err)
	}

	second := pcDataDir{data: copied, sec: sec2(copied)}
	s, err := second.open()
	if err == nil {
		s.Close()
		t.Fatal("the copied store opened on the second PC")
	}
	if !errors.Is(err, want) {
		t.Errorf("open on the second PC = %v, want %v", err, want)
	}
	if _, err := second.sec.Get(SecretInstallKey); err == nil {
		t.Error("the second PC got the installation key")
	}
	if _, err := second.sec.Get(SecretStoreKey); err == nil {
		t.Error("the second PC got a store key")
	}
	if _, err := os.Stat(filepath.Join(copied, "store.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed open left a key file: %v", err)
	}

	// The first PC keeps working.
	s, err = pc.open()
	mustNil(t, err)
	defer s.Close()
	if _, err := s.License(); err != nil {
		t.Errorf("the first PC lost its license: %v", err)
	}
	if _, err := s.Tokens(); err != nil {
		t.Errorf("the first PC lost its tokens: %v", err)
	}
	if k, err := s.InstallKey(); err != nil || !k.Equal(ik) {
		t.Errorf("the first PC lost its installation key: %v", err)
	}
}

func TestSecretsCopiedDataDirFileSealed(t *testing.T) {
	pc, ik := licensedPC(t, func(data string) Secrets { return FileSecrets(data, "machine-1") })
	checkCopyUseless(t, pc, ik, func(data string) Secrets { return FileSecrets(data, "machine-2") }, ErrSecretsForeign)
}

func TestSecretsCopiedDataDirKeyring(t *testing.T) {
	first, second := testKeyringService(t), testKeyringService(t) // two PCs' keyrings
	pc, ik := licensedPC(t, func(data string) Secrets { return OSSecrets(first, data) })
	// The same path on the second PC, so only the keyring differs.
	checkCopyUseless(t, pc, ik, func(string) Secrets { return OSSecrets(second, pc.data) }, ErrStoreKeyMissing)
	// A copy under another path on the first PC is no data directory of
	// its own either: its account has no keys.
	checkCopyUseless(t, pc, ik, func(data string) Secrets { return OSSecrets(first, data) }, ErrStoreKeyMissing)
}

func TestSecretsCopy(t *testing.T) {
	src, dst := FileSecrets(t.TempDir(), "machine-a"), FileSecrets(t.TempDir(), "machine-a")
	mustNil(t, CopySecrets(dst, src, SecretStoreKey, SecretInstallKey)) // nothing to copy
	key, seed := randomBytes(t, 32), randomBytes(t, 32)
	mustNil(t, src.Set(SecretStoreKey, key))
	mustNil(t, src.Set(SecretInstallKey, seed))
	mustNil(t, dst.Set(SecretStoreKey, key)) // already there: kept
	mustNil(t, CopySecrets(dst, src, SecretStoreKey, SecretInstallKey))
	for name, want := range map[string][]byte{SecretStoreKey: key, SecretInstallKey: seed} {
		if got, err := dst.Get(name); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after the copy: %v", name, err)
		}
	}
	mustNil(t, CopySecrets(dst, src, SecretStoreKey, SecretInstallKey)) // again: a no-op

	other := randomBytes(t, 32)
	mustNil(t, dst.Set(SecretInstallKey, other))
	if err := CopySecrets(dst, src, SecretInstallKey); err == nil {
		t.Error("two different values of one key were not refused")
	}
	if got, _ := dst.Get(SecretInstallKey); !bytes.Equal(got, other) {
		t.Error("the copy overwrote a value")
	}
	foreign := t.TempDir()
	copyTree(t, srcDir(src), foreign)
	if err := CopySecrets(dst, FileSecrets(foreign, "machine-b"), SecretStoreKey); !errors.Is(err, ErrSecretsForeign) {
		t.Errorf("from a foreign file: %v", err)
	}
}

func srcDir(s Secrets) string { return filepath.Dir(s.(*fileSecrets).path) }

func TestSecretsStoreKeyRefusals(t *testing.T) {
	t.Run("damaged key file, key in Secrets", func(t *testing.T) {
		data := t.TempDir()
		dir := filepath.Join(data, "store")
		sec := FileSecrets(data, "machine-a")
		s := openTestStore(t, StoreOptions{Dir: dir, Secrets: sec})
		mustNil(t, s.Close())
		writeKey(t, dir, 5)
		openTestStore(t, StoreOptions{Dir: dir, Secrets: sec})
	})
	t.Run("damaged key file, nothing in Secrets", func(t *testing.T) {
		data := t.TempDir()
		dir := filepath.Join(data, "store")
		writeKey(t, dir, 5)
		if _, err := OpenStore(StoreOptions{Dir: dir, Secrets: FileSecrets(data, "machine-a")}); !errors.Is(err, ErrStoreCorrupt) {
			t.Errorf("%v, want ErrStoreCorrupt", err)
		}
	})
	t.Run("store key of the wrong size in Secrets", func(t *testing.T) {
		data := t.TempDir()
		sec := FileSecrets(data, "machine-a")
		mustNil(t, sec.Set(SecretStoreKey, []byte("short")))
		if _, err := OpenStore(StoreOptions{Dir: filepath.Join(data, "store"), Secrets: sec}); !errors.Is(err, ErrStoreCorrupt) {
			t.Errorf("%v, want ErrStoreCorrupt", err)
		}
	})
	t.Run("key gone from Secrets", func(t *testing.T) {
		// Keys kept elsewhere before (say the credential store, now out
		// of reach): no new key is made for an existing store.
		data := t.TempDir()
		dir := filepath.Join(data, "store")
		s := openTestStore(t, StoreOptions{Dir: dir, Secrets: FileSecrets(data, "machine-a")})
		mustNil(t, s.Close())
		empty := FileSecrets(t.TempDir(), "machine-a")
		if _, err := OpenStore(StoreOptions{Dir: dir, Secrets: empty}); !errors.Is(err, ErrStoreKeyMissing) {
			t.Errorf("%v, want ErrStoreKeyMissing", err)
		}
		if _, err := empty.Get(SecretStoreKey); !errors.Is(err, ErrNotStored) {
			t.Errorf("a key was made: %v", err)
		}
		if _, err := os.Stat(dir + ".key"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a key file was made: %v", err)
		}
	})
	t.Run("damaged install key in Secrets", func(t *testing.T) {
		data := t.TempDir()
		sec := FileSecrets(data, "machine-a")
		mustNil(t, sec.Set(SecretInstallKey, []byte("short")))
		s := openTestStore(t, StoreOptions{Dir: filepath.Join(data, "store"), Secrets: sec})
		if _, err := s.InstallKey(); !errors.Is(err, ErrStoreCorrupt) {
			t.Errorf("%v, want ErrStoreCorrupt", err)
		}
	})
}
