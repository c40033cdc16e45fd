package licensecore

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests here re-run the test binary as a second process (the
// TestHelperProcess pattern of os/exec): one to hold the store lock, one to
// be killed in the middle of writing.

const (
	envHelper   = "LICENSECORE_TEST_HELPER"
	envStoreDir = "LICENSECORE_TEST_STORE"
	crashWrites = 50
	// Markers the child prints; the parent asserts on them.
	markAlreadyRunning = "result: already-running"
	markOpened         = "result: opened"
	markCommitted      = "committed "
)

func crashKey(i int) string   { return fmt.Sprintf("k%02d", i) }
func crashValue(i int) string { return fmt.Sprintf("value-%02d-%s", i, strings.Repeat("v", i)) }

// TestHelperProcess is not a test: it is the child process.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("child process of the multi-process tests")
	}
	os.Exit(runHelper(mode, os.Getenv(envStoreDir)))
}

func runHelper(mode, dir string) int {
	s, err := OpenStore(StoreOptions{Dir: dir})
	switch {
	case mode == "open" && errors.Is(err, ErrAlreadyRunning):
		fmt.Println(markAlreadyRunning)
		return 0
	case err != nil:
		fmt.Println("result: error:", err)
		return 1
	}
	defer s.Close()
	if mode == "open" {
		fmt.Println(markOpened)
		return 0
	}
	for i := range crashWrites { // mode "crash"
		if err := s.SetSetting(crashKey(i), crashValue(i)); err != nil {
			fmt.Println("result: error:", err)
			return 1
		}
		if _, err := s.AppendAudit(EventVerified, crashKey(i), t0.Add(time.Duration(i)*time.Second)); err != nil {
			fmt.Println("result: error:", err)
			return 1
		}
		fmt.Printf("%s%d\n", markCommitted, i)
	}
	return 0
}

func helperCommand(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envStoreDir+"="+dir)
	return cmd
}

func TestStoreSecondProcess(t *testing.T) {
	s := newTestStore(t)
	dir := storeDir(s)
	out, err := helperCommand(t, "open", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), markAlreadyRunning) {
		t.Fatalf("second process while the store is open: %v\n%s", err, out)
	}
	// The first process is unharmed.
	mustNil(t, s.SetSetting("still", "works"))

	mustNil(t, s.Close())
	out, err = helperCommand(t, "open", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), markOpened) {
		t.Fatalf("second process after the first closed: %v\n%s", err, out)
	}
}

// TestStoreCrash kills a writer (SIGKILL; TerminateProcess on Windows) at a few points and checks
// that every write it had reported committed survived, and nothing is
// corrupt.
func TestStoreCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, killAt := range []int{3, 24, 41} {
		t.Run(fmt.Sprintf("kill after %d", killAt), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			last := runAndKill(t, helperCommand(t, "crash", dir), killAt)

			s := openTestStore(t, StoreOptions{Dir: dir})
			present := 0
			for i := range crashWrites {
				got, err := s.Setting(crashKey(i))
				switch {
				case err == nil && got == crashValue(i):
					present++
				case err == nil:
					t.Errorf("%s = %q, want %q", crashKey(i), got, crashValue(i))
				case i <= last:
					t.Errorf("committed write %s lost: %v", crashKey(i), err)
				case !errors.Is(err, ErrNotStored):
					t.Errorf("%s: %v", crashKey(i), err)
				}
			}
			if err := s.VerifyAudit(); err != nil {
				t.Errorf("audit log after the crash: %v", err)
			}
			log, err := s.AuditLog()
			mustNil(t, err)
			if len(log) <= last {
				t.Errorf("audit log has %d entries, %d were committed", len(log), last+1)
			}
			for _, e := range log {
				if want := crashKey(int(e.Seq) - 1); e.Detail != want {
					t.Errorf("audit entry %d is %q, want %q", e.Seq, e.Detail, want)
				}
			}
			t.Logf("killed after %d commits; %d settings and %d audit entries on disk", last+1, present, len(log))
			// The store still takes writes.
			_, err = s.AppendAudit(EventVerified, "after crash", t0)
			mustNil(t, err)
			mustNil(t, s.VerifyAudit())
		})
	}
}

// runAndKill starts cmd, reads its "committed N" lines and kills it as
// soon as N reaches killAt. It returns the last N reported.
func runAndKill(t *testing.T, cmd *exec.Cmd, killAt int) int {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	mustNil(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	mustNil(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	last := -1
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		var n int
		if _, err := fmt.Sscanf(line, markCommitted+"%d", &n); err != nil {
			t.Fatalf("child: %s\n%s", line, stderr.String())
		}
		last = n
		if n >= killAt {
			mustNil(t, cmd.Process.Kill())
			break
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !WasKilled(exit.ProcessState) {
		t.Fatalf("child was not killed (last commit %d): %v\n%s", last, err, stderr.String())
	}
	if last < killAt {
		t.Fatalf("child stopped after %d commits, before the kill point %d", last+1, killAt)
	}
	return last
}
