// Package processpbconnect holds the generated connect-go handlers and
// clients of E2B's process.Process service. Regenerate with scripts/genproto;
// only this file is written by hand.
package processpbconnect
