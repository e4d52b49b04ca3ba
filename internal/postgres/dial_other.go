//go:build !linux

package postgres

import "syscall"

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist; keepalive probes
// still find a dead connection when it is idle.
func setUserTimeout(string, string, syscall.RawConn) error { return nil }
