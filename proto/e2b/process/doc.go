// Package processpb holds the generated code for E2B's envd process protocol
// (process.proto, package "process"), which the e2b SDK calls over Connect; the
// connect-go stubs are in processpbconnect. Regenerate with scripts/genproto;
// only this file is written by hand.
package processpb
