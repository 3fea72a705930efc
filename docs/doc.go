// Package docs holds Warren's user documentation (GETTING-STARTED.md, API.md,
// OPERATIONS.md, ARCHITECTURE.md) and the test that keeps it honest: every
// curl example of API.md is run, in order, against a real node.
package docs
