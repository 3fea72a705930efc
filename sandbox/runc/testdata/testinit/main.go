// Command testinit is a minimal PID 1 for the runc package's tests, standing in
// for the sandbox agent: it prints "ready", starts its arguments (if any) as a
// child, reaps every zombie, and exits 0 on SIGTERM or SIGINT. Run as
// "init -socket FAMILY..." it instead tries socket(FAMILY, SOCK_DGRAM or
// SOCK_RAW for AF_PACKET, 0) for each family and prints "FAMILY=ok" or
// "FAMILY=<errno number>", one a line.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-socket" {
		for _, a := range os.Args[2:] {
			fam, _ := strconv.Atoi(a)
			typ := syscall.SOCK_DGRAM
			if fam == syscall.AF_PACKET || fam == syscall.AF_ALG {
				typ = syscall.SOCK_RAW
				if fam == syscall.AF_ALG {
					typ = syscall.SOCK_SEQPACKET
				}
			}
			fd, err := syscall.Socket(fam, typ, 0)
			if errno, ok := err.(syscall.Errno); ok {
				fmt.Printf("%d=%d\n", fam, int(errno))
				continue
			}
			syscall.Close(fd)
			fmt.Printf("%d=ok\n", fam)
		}
		return
	}
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
