package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// refused <host:port>: BLOCKED only when the connect is refused fast (a TCP
// reset or an ICMP error: ECONNREFUSED, EHOSTUNREACH, EACCES, within 1 s); a
// connection, or a timeout (a silent drop), is reported as ESCAPED.
func init() {
	attacks["refused"] = func(args []string) string {
		start := time.Now()
		c, err := net.DialTimeout("tcp", args[0], 2*time.Second)
		took := time.Since(start)
		if err == nil {
			c.Close()
			return "ESCAPED connected to " + args[0]
		}
		fast := took < time.Second
		if fast && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.EACCES)) {
			return fmt.Sprintf("BLOCKED refused in %v: %v", took.Round(time.Microsecond), err)
		}
		return fmt.Sprintf("ESCAPED not refused fast: %v after %v", err, took.Round(time.Millisecond))
	}
}
