package postgres

import (
	"net"
	"time"
)

const (
	// connectTimeout bounds a connection attempt when the URL sets no connect_timeout.
	connectTimeout = 10 * time.Second
	// userTimeout is how long sent data may go unacknowledged before the kernel drops the
	// connection (TCP_USER_TIMEOUT, Linux): a server that vanished mid-statement (a network
	// partition, a host that lost power) fails the statement after this, not after the
	// kernel's fifteen minutes of retransmissions.
	userTimeout = 30 * time.Second
)

// dialer opens TCP connections with keepalive probes (after 15 s idle, every 5 s, 3
// unanswered drop the connection: a pooled connection to a vanished server is found dead
// before a request takes it) and TCP_USER_TIMEOUT where the platform has it. Unix sockets
// are dialled as they are. pgx's own dialer sets neither.
func dialer() *net.Dialer {
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3},
		Control:         setUserTimeout,
	}
}
