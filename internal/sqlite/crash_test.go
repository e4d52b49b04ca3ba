package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

// crashEnv names the database the child process of TestCrashDuringImport writes to.
const crashEnv = "ROSTER_SQLITE_CRASH_CHILD"

// TestCrashDuringImport kills (SIGKILL) a process in the middle of a large import and
// checks that the database comes back with the interrupted import entirely absent and
// nothing damaged. The child is this test binary, re-run with crashEnv set.
func TestCrashDuringImport(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "roster.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringImport$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	writing := false
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "WRITING") {
			writing = true
			break
		}
		if strings.HasPrefix(lines.Text(), "FAILED") {
			t.Fatalf("child: %s", lines.Text())
		}
	}
	if !writing {
		cmd.Wait()
		t.Fatal("the child never reached the import")
	}
	// Let it write a little more (the page cache spills uncommitted pages into the WAL),
	// then kill it mid-Write.
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed by SIGKILL: %v", err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Logf("note: no WAL left behind (%v); the kill came before any page spilled", err)
	}

	ctx := context.Background()
	db := openTest(t, path, nil)
	var check string
	if err := db.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	org, err := db.OrganizationBySlug(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if org.LearnersVersion != 1 {
		t.Fatalf("version %d, want 1 (only the first import)", org.LearnersVersion)
	}
	n, err := db.Lookup(org.ID).CountLearners(ctx)
	if err != nil || n != crashFirst {
		t.Fatalf("%d learners, %v; want the %d of the committed import only", n, err, crashFirst)
	}
	var total int
	db.r.QueryRowContext(ctx, `SELECT count(*) FROM learners`).Scan(&total)
	if total != crashFirst {
		t.Fatalf("%d learner rows in the table, want %d", total, crashFirst)
	}
	bs, err := db.ImportBatches(ctx, org.ID, 10)
	if err != nil || len(bs) != 1 || bs[0].CreatedBy != "first" {
		t.Fatalf("batches %+v, %v; want the first import's only", bs, err)
	}
	// And the database takes writes again.
	if _, err := db.Import(ctx, org.ID, 1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		return &roster.ImportBatch{CreatedBy: "after"}, tx.Write(ctx, newLearners(crashFirst, 10))
	}); err != nil {
		t.Fatalf("import after the crash: %v", err)
	}
}

const crashFirst = 1000

// crashChild commits one import, then runs a second one that never ends, saying WRITING
// on stdout once it is well into it.
func crashChild(path string) {
	fail := func(err error) {
		fmt.Println("FAILED", err)
		os.Exit(1)
	}
	go func() { // never outlive a parent that forgot us
		time.Sleep(5 * time.Minute)
		os.Exit(3)
	}()
	ctx := context.Background()
	db, err := Open(ctx, path, Options{})
	if err != nil {
		fail(err)
	}
	org := &roster.Organization{Slug: "crash", Name: "Crash"}
	if err := db.CreateOrganization(ctx, org); err != nil {
		fail(err)
	}
	if _, err := db.Import(ctx, org.ID, 0, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		return &roster.ImportBatch{CreatedBy: "first"}, tx.Write(ctx, newLearners(0, crashFirst))
	}); err != nil {
		fail(err)
	}
	_, err = db.Import(ctx, org.ID, 1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		for i := crashFirst; ; i += 1000 {
			if err := tx.Write(ctx, newLearners(i, 1000)); err != nil {
				return nil, err
			}
			// Well into it, and soon: under -race on a loaded machine 100,000 rows once
			// took the child past its minute.
			if i == crashFirst+20_000 {
				fmt.Println("WRITING")
			}
		}
	})
	fail(fmt.Errorf("the endless import ended: %v", err))
}
