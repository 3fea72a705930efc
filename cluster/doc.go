// Package cluster is Warren's peer cluster: gossip membership (hashicorp/memberlist)
// among every node, and leader election plus a small replicated state machine
// (hashicorp/raft) among the server nodes.
//
// # Vocabulary
//
//   - Node: one running `warren node`. Its ID is "node-<uuid>" and is also its
//     memberlist name, its raft server ID, and the ID stored in Postgres.
//   - Server: a node started with Server=true. Servers run raft; one of them is the
//     leader. Non-server ("client") nodes run gossip only.
//   - Meta: what every node gossips about itself (≤ 512 bytes, see [Meta]): addresses,
//     role, capacity, drain flag, version and, for servers, the raft leader they know.
//   - Term: the raft term. A node that gains leadership runs its leader tasks with the
//     term it won; that term is the fencing token for every write made for the leader.
//
// # Lifecycle
//
// [Open] binds the gossip and (servers) raft listeners, joins the addresses in
// Config.Join and returns once the node is a member. Servers bootstrap raft once
// Config.BootstrapExpect servers are visible through gossip and none of them already
// belongs to a raft cluster (Nomad's bootstrap-expect): every server then calls
// BootstrapCluster with the same configuration, all seen servers sorted by ID. After
// that the leader adds servers it sees through gossip as voters and removes servers
// that left, or that have been dead for longer than Config.DeadServerGrace.
// [Cluster.Close] leaves gracefully (a leader first transfers leadership);
// [Cluster.Shutdown] stops abruptly and peers detect a failure. A leaving node
// gossips a leave intent of its own besides memberlist's leave, and push/pull
// carries it too, so every member ends up reporting it left, never dead, even one
// that missed every packet of the leave (leave.go).
//
// # Leadership
//
// Leader-only work is registered with [Cluster.RegisterLeaderTask]. When a server
// gains leadership it issues a raft barrier (so its FSM has applied every earlier
// entry), records the new fencing epoch in the FSM, then starts every task in its own
// goroutine with a context that is cancelled when leadership is lost or the node
// closes (Nomad's monitorLeadership/establishLeadership). Tasks registered while the
// node already leads start at once.
//
// Non-servers learn the leader from gossip: every server puts the leader it knows
// and the current term into its meta (Meta.LeaderID, Meta.Term); [Cluster.Leader] on
// a non-server returns the leader reported with the highest term by an alive server,
// provided the leader itself is alive.
//
// # Fencing Postgres writes
//
// A leader task receives the term it leads in. The node (node/fence.go) makes
// that term the fencing token of every write made for the leader, against one
// row in Postgres (migrations/00004_cluster_fence.sql, store/fence.go):
//
//	-- one row, the term of the newest leader that took office
//	CREATE TABLE cluster_fence (id smallint PRIMARY KEY CHECK (id = 1), term bigint NOT NULL);
//	-- before a leader task starts (no row: a newer term holds it, the task does not run):
//	UPDATE cluster_fence SET term = $1 WHERE id = 1 AND term <= $1 RETURNING term;
//	-- first in every leader-made transaction (refused unless it returns $1):
//	SELECT term FROM cluster_fence WHERE id = 1 FOR SHARE;
//
// The share lock makes a new leader's raise wait for a leader-made transaction
// in flight, and every later one see the raise, so a stale leader (one whose term
// is below the fence) writes nothing, even before it notices it lost leadership.
// [Cluster.VerifyLeader] additionally asks a quorum that this node still leads,
// for the rare write that must not rely on the fence alone.
//
// # Replicated state (FSM)
//
// The raft FSM ([FSM]) is deliberately small; see [State]. It holds the fencing epoch
// (the highest term that established leadership, and by whom) and the set of draining
// node IDs. Apply is deterministic: no clocks, no random IDs. [Cluster.Apply] works on
// the leader only and returns [ErrNotLeader] elsewhere; forwarding to the leader is
// the caller's business.
package cluster
