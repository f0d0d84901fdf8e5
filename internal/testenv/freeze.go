package testenv

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Freeze stops process pid with SIGSTOP, as a hung host would, and returns
// the function that resumes it (also run when the test ends). It returns
// only once the kernel reports the process stopped: SIGSTOP is delivered
// asynchronously, and on a busy machine a request sent right after kill
// could otherwise still be answered.
func Freeze(t testing.TB, pid int) (resume func()) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %d: %v", pid, err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("SIGCONT %d: %v", pid, err)
			}
		})
	}
	t.Cleanup(resume)
	deadline := time.Now().Add(5 * time.Second)
	for {
		state, err := processState(pid)
		if err != nil {
			t.Fatalf("state of %d: %v", pid, err)
		}
		if state == 'T' || state == 't' {
			return resume
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is not stopped 5 s after SIGSTOP (state %c)", pid, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processState is the state letter of /proc/pid/stat (R, S, T, …).
func processState(pid int) (byte, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// "pid (comm) S …": the command may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return b[i+2], nil
}
