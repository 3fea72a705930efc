// Package nodev1 holds the generated gRPC code for the node-to-node protocol
// (node.proto): sandbox creation on a chosen node, placement by the raft
// leader, template image transfer between nodes, image deletion, ping, and the
// calls on a sandbox that reach its owner node (kill, pause, resume, snapshot,
// port connections; its agent is relayed as warren.agent.v1.Agent).
// Package cluster/rpc serves and dials it over mutual TLS. Regenerate with
// scripts/genproto; only this file is written by hand.
package nodev1
