package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/cluster/rpc"
	"github.com/warrenhq/warren/id"
	nodev1 "github.com/warrenhq/warren/proto/node/v1"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// nodeRPC serves the node-to-node gRPC service (callers are authenticated by
// mTLS from the cluster key).
type nodeRPC struct {
	nodev1.UnimplementedNodeServer
	cn *clusterNode
}

func (r nodeRPC) Ping(ctx context.Context, _ *nodev1.PingRequest) (*nodev1.PingResponse, error) {
	return &nodev1.PingResponse{NodeId: r.cn.n.ID.String(), Version: Version}, nil
}

// CreateSandbox starts a sandbox whose row the calling node recorded for us.
func (r nodeRPC) CreateSandbox(ctx context.Context, req *nodev1.CreateSandboxRequest) (*nodev1.CreateSandboxResponse, error) {
	sb, err := id.ParseSandboxID(req.SandboxId)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	row, err := r.cn.n.service.StartLocal(ctx, sb, req.Env)
	if err != nil {
		return nil, grpcError(err)
	}
	return &nodev1.CreateSandboxResponse{Ip: row.Ip, NodeId: r.cn.n.ID.String()}, nil
}

// Place runs the scheduler; only the leader answers.
func (r nodeRPC) Place(ctx context.Context, req *nodev1.PlaceRequest) (*nodev1.PlaceResponse, error) {
	if !r.cn.c.IsLeader() {
		return nil, status.Error(codes.FailedPrecondition, "not the leader")
	}
	team, err1 := id.ParseTeamID(req.TeamId)
	tpl, err2 := id.ParseTemplateID(req.TemplateId)
	if err := errors.Join(err1, err2); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	p := sandboxes.Placement{Team: team, Template: tpl, VCPUs: req.Vcpus, MemoryMB: req.MemoryMb, DiskSizeMB: req.DiskSizeMb, IsBuild: req.IsBuild}
	for _, x := range req.ExcludeNodeIds {
		if nid, err := id.ParseNodeID(x); err == nil {
			p.Exclude = append(p.Exclude, nid)
		}
	}
	node, err := r.cn.schedule(ctx, p)
	if err != nil {
		return nil, grpcError(err)
	}
	return &nodev1.PlaceResponse{NodeId: node.String()}, nil
}

// PullImage streams a stored image to a peer.
func (r nodeRPC) PullImage(req *nodev1.PullImageRequest, stream nodev1.Node_PullImageServer) error {
	info, err := r.cn.n.pool.Image(stream.Context(), req.Name)
	if err != nil {
		return grpcError(err)
	}
	return rpc.SendImage(info.Path, req.Name, stream)
}

// DeleteImage removes a template's image from this node's pool.
func (r nodeRPC) DeleteImage(ctx context.Context, req *nodev1.DeleteImageRequest) (*nodev1.DeleteImageResponse, error) {
	err := r.cn.n.pool.RemoveImage(ctx, req.Name)
	if errors.Is(err, blockdev.ErrNotFound) {
		return &nodev1.DeleteImageResponse{Deleted: false}, nil
	}
	if err != nil {
		return nil, grpcError(err)
	}
	return &nodev1.DeleteImageResponse{Deleted: true}, nil
}

// grpcError maps service errors onto gRPC codes for the calling node (which
// turns them back with fromOwner). Messages of NotFound and
// FailedPrecondition are written for users: a relayed agent call shows them
// as they are.
func grpcError(err error) error {
	var fe *sandbox.FieldError
	var ce *sandbox.CapacityError
	switch {
	case errors.As(err, &fe):
		st := status.New(codes.InvalidArgument, fe.Error())
		if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: fe.Field, Description: fe.Message}}}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.As(err, &ce):
		return status.Error(codes.ResourceExhausted, ce.Message)
	case errors.Is(err, sandbox.ErrNotFound):
		return status.Error(codes.NotFound, "sandbox not found")
	case errors.Is(err, blockdev.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, sandbox.ErrConflict):
		msg := sandbox.ConflictReason(err)
		if msg == "" {
			msg = err.Error()
		}
		return status.Error(codes.FailedPrecondition, msg)
	case errors.Is(err, sandbox.ErrUnavailable), errors.Is(err, store.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// StartOn asks node to start a recorded sandbox.
func (cn *clusterNode) StartOn(ctx context.Context, node id.NodeID, row db.Sandbox, env map[string]string) error {
	cl, err := cn.client(node)
	if err != nil {
		return err
	}
	req := &nodev1.CreateSandboxRequest{SandboxId: row.ID.String(), TeamId: row.TeamID.String(), Vcpus: float64(row.Vcpus),
		MemoryMb: int64(row.MemoryMb), DiskSizeMb: int64(row.DiskSizeMb), Env: env,
		AllowInternetAccess: row.AllowInternetAccess, TimeoutSec: int64(row.TimeoutSec)}
	if row.TemplateID != nil {
		req.TemplateId = id.TemplateID(*row.TemplateID).String()
	}
	if _, err := cl.CreateSandbox(ctx, req); err != nil {
		if st, ok := status.FromError(err); ok {
			switch st.Code() {
			case codes.ResourceExhausted:
				return &sandbox.CapacityError{Message: st.Message()}
			case codes.Unavailable, codes.DeadlineExceeded:
				return &sandbox.UnavailableError{Message: fmt.Sprintf("node %s did not answer", node)}
			}
		}
		return fmt.Errorf("starting sandbox %s on node %s: %w", row.ID, node, err)
	}
	return nil
}

// EnsureImage pulls a template's image from a peer that holds it when this
// node's pool lacks it: checksum-verified, retried, recorded as a replica, and
// grown to the default disk size like every stored image.
func (cn *clusterNode) EnsureImage(ctx context.Context, tpl id.TemplateID) error {
	name := tpl.String()
	if _, err := cn.n.pool.Image(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, blockdev.ErrNotFound) {
		return err
	}
	cn.mu.Lock()
	mu := cn.pulls[tpl]
	if mu == nil {
		mu = &sync.Mutex{}
		cn.pulls[tpl] = mu
	}
	cn.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if _, err := cn.n.pool.Image(ctx, name); err == nil {
		return nil // pulled by a concurrent create
	}
	reps, err := cn.n.store.ListTemplateReplicas(ctx, tpl)
	if err != nil {
		return store.Map(err)
	}
	dir := filepath.Join(cn.n.cfg.DataDir, "pulls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var errs []error
	for _, rep := range reps {
		if rep.NodeID == cn.n.ID {
			continue
		}
		cl, err := cn.client(rep.NodeID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dst := filepath.Join(dir, name+".img")
		var size int64
		var sum string
		err = rpc.Retry(ctx, 3, func() error {
			var err error
			size, sum, err = rpc.ReceiveImage(ctx, cl, name, dst)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("from %s: %w", rep.NodeID, err))
			continue
		}
		info, err := cn.n.pool.ImportImage(ctx, name, dst)
		_ = os.Remove(dst)
		if err != nil {
			return fmt.Errorf("importing %s: %w", name, err)
		}
		if err := cn.n.pool.EnsureImageSizes(ctx, cn.n.cfg.DefaultDiskSizeMB<<20); err != nil {
			cn.n.log.Warn("growing a pulled image", "image", name, "err", err)
		}
		cn.n.log.Info("template image pulled", "template", tpl, "from", rep.NodeID, "bytes", size, "checksum", sum)
		return store.Map(cn.n.store.UpsertTemplateReplica(ctx, db.UpsertTemplateReplicaParams{
			TemplateID: tpl, NodeID: cn.n.ID, Path: info.Path, Bytes: info.ApparentBytes, Checksum: sum}))
	}
	if len(errs) == 0 {
		return fmt.Errorf("template %s: %w: no node holds its image", tpl, sandbox.ErrUnavailable)
	}
	return fmt.Errorf("template %s: pulling its image failed: %w", tpl, errors.Join(errs...))
}

// DeleteImage removes a deleted template's image from a peer.
func (cn *clusterNode) DeleteImage(ctx context.Context, node id.NodeID, tpl id.TemplateID) error {
	cl, err := cn.client(node)
	if err != nil {
		return err
	}
	_, err = cl.DeleteImage(ctx, &nodev1.DeleteImageRequest{Name: tpl.String()})
	return err
}
