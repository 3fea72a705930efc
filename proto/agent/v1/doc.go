// Package agentv1 holds the generated gRPC code for the in-sandbox agent
// protocol (agent.proto): process execution, file access and health, served by
// `warren agent` on a unix socket inside every sandbox. Regenerate with
// scripts/genproto; only this file is written by hand.
package agentv1
