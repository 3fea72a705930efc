// Package chaos holds only tests: the cluster chaos test of issue #18. It
// runs three server nodes and two workers (`warren node` subprocesses, each
// in a network namespace of its own, cabled to one test switch) under a
// steady load of sandbox create/exec/kill and template builds, while it
// SIGKILLs a random node every ~20 s, cuts one node off the switch for 15 s
// and restarts Postgres once. Every client call is written to a ledger with
// its answer; afterwards the ledger is checked against Postgres and against
// each node's host objects: every sandbox the client was told exists exists
// or is recorded lost with a reason, no sandbox runs on two nodes, no build
// ends both succeeded and failed (or makes two templates), and no host
// object (sandbox dir, mount, loop device, netns, runc container) is left
// without a live sandbox. It prints one summary line of counts.
//
// `make test` runs it bounded (about 2.5 minutes of chaos); run it longer
// with
//
//	go test -count=1 -v ./node/chaos/ -chaos.duration 10m
package chaos
