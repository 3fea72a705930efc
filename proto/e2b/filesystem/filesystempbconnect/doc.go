// Package filesystempbconnect holds the generated connect-go handlers and
// clients of E2B's filesystem.Filesystem service. Regenerate with
// scripts/genproto; only this file is written by hand.
package filesystempbconnect
