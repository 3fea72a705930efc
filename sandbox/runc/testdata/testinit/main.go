// Command testinit is a minimal PID 1 for the runc package's tests, standing in
// for the sandbox agent: it prints "ready", starts its arguments (if any) as a
// child, reaps every zombie, and exits 0 on SIGTERM or SIGINT.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	if len(os.Args) > 1 {
		_, err := os.StartProcess(os.Args[1], os.Args[1:], &os.ProcAttr{
			Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "testinit:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ready")
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
