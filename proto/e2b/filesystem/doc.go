// Package filesystempb holds the generated code for E2B's envd filesystem protocol
// (filesystem.proto, package "filesystem"), which the e2b SDK calls over Connect; the
// connect-go stubs are in filesystempbconnect. Regenerate with scripts/genproto;
// only this file is written by hand.
package filesystempb
