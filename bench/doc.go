// Package bench is Warren's load generator: it drives a node through the public
// REST API with plain net/http and measures what the platform promises —
// create→exec-ready latency (one at a time and N concurrent), the exec round
// trip, idle memory per sandbox and how many idle sandboxes one node holds.
//
// A Runner runs named scenarios (create, exec, idle-memory, density) and returns
// a Result with p50/p90/p99/max per measurement, printable as a table or JSON.
// Every sandbox a scenario creates carries the metadata warren-bench=<run ID>
// and a TTL, and is killed when the scenario ends — on error and on
// cancellation too, from a fresh context — so a run leaves nothing behind.
package bench
