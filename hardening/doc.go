// Package hardening is Warren's adversarial test suite and the tally it
// reports. The tests (in this package's _test.go files) start real nodes —
// runc, network namespaces, loop devices, Postgres — and try to break them:
// escapes from inside a sandbox (raw system calls from a static probe program
// uploaded through the files API), abuse of the REST API driven by its OpenAPI
// document and of the E2B control plane (e2b_test.go), 50 concurrent clients for a configurable time, and faults
// (Postgres stopped mid-load, a node SIGKILLed mid-create, mid-build and
// mid-snapshot, a full disk pool). Every attempt is counted in a Tally; the
// last test prints its Summary and fails if anything escaped, leaked or was
// lost.
//
// Run it with scripts/test-adversarial (as root). WARREN_LOAD_SECONDS sets the
// load test's duration (default 120); WARREN_ADVERSARIAL_SUMMARY names a file
// the summary is also written to.
package hardening
