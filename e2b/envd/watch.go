package envd

import (
	"context"
	"path"

	"connectrpc.com/connect"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	filesystempb "github.com/warrenhq/warren/proto/e2b/filesystem"
)

// eventType maps the agent's watch ops to E2B's.
var eventType = map[agentv1.WatchOp]filesystempb.EventType{
	agentv1.WatchOp_WATCH_OP_CREATE: filesystempb.EventType_EVENT_TYPE_CREATE,
	agentv1.WatchOp_WATCH_OP_WRITE:  filesystempb.EventType_EVENT_TYPE_WRITE,
	agentv1.WatchOp_WATCH_OP_REMOVE: filesystempb.EventType_EVENT_TYPE_REMOVE,
	agentv1.WatchOp_WATCH_OP_RENAME: filesystempb.EventType_EVENT_TYPE_RENAME,
	agentv1.WatchOp_WATCH_OP_CHMOD:  filesystempb.EventType_EVENT_TYPE_CHMOD,
}

// fsEvent translates one event; with entry, it describes the entry too
// (when it still exists).
func (s *filesystemService) fsEvent(ctx context.Context, dir string, ev *agentv1.WatchEvent, withEntry bool) *filesystempb.FilesystemEvent {
	out := &filesystempb.FilesystemEvent{Name: ev.GetName(), Type: eventType[ev.GetOp()]}
	if withEntry && ev.GetOp() != agentv1.WatchOp_WATCH_OP_REMOVE && ev.GetOp() != agentv1.WatchOp_WATCH_OP_RENAME {
		if e, err := s.stat(ctx, path.Join(dir, ev.GetName())); err == nil {
			out.Entry = e
		}
	}
	return out
}

func (s *filesystemService) watchRequest(ctx context.Context, p string, recursive bool) (*agentv1.WatchRequest, error) {
	dir, err := s.path(ctx, "path", p)
	if err != nil {
		return nil, err
	}
	return &agentv1.WatchRequest{Path: dir, Recursive: recursive}, nil
}

func (s *filesystemService) WatchDir(ctx context.Context, req *connect.Request[filesystempb.WatchDirRequest], out *connect.ServerStream[filesystempb.WatchDirResponse]) error {
	wr, err := s.watchRequest(ctx, req.Msg.GetPath(), req.Msg.GetRecursive())
	if err != nil {
		return err
	}
	stream, err := callFrom(ctx).agent.Raw().Watch(ctx, wr)
	if err != nil {
		return connectErr(ctx, s.h.log, err)
	}
	// The watch is in place once the agent says so: errors (no such
	// directory) fail the call before the start event.
	if _, err := stream.Recv(); err != nil {
		return connectErr(ctx, s.h.log, err)
	}
	if err := out.Send(&filesystempb.WatchDirResponse{Event: &filesystempb.WatchDirResponse_Start{Start: &filesystempb.WatchDirResponse_StartEvent{}}}); err != nil {
		return err
	}
	msgs := pump(ctx, stream.Recv)
	tick, stop := keepaliveTicks(keepalive(req.Header()))
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return streamEnd(ctx, "")
		case <-tick:
			if err := out.Send(&filesystempb.WatchDirResponse{Event: &filesystempb.WatchDirResponse_Keepalive{Keepalive: &filesystempb.WatchDirResponse_KeepAlive{}}}); err != nil {
				return err
			}
		case mm := <-msgs:
			if mm.err != nil {
				return connectErr(ctx, s.h.log, mm.err)
			}
			ev := s.fsEvent(ctx, wr.Path, mm.m.GetEvent(), req.Msg.GetIncludeEntry())
			if err := out.Send(&filesystempb.WatchDirResponse{Event: &filesystempb.WatchDirResponse_Filesystem{Filesystem: ev}}); err != nil {
				return err
			}
		}
	}
}

func (s *filesystemService) CreateWatcher(ctx context.Context, req *connect.Request[filesystempb.CreateWatcherRequest]) (*connect.Response[filesystempb.CreateWatcherResponse], error) {
	wr, err := s.watchRequest(ctx, req.Msg.GetPath(), req.Msg.GetRecursive())
	if err != nil {
		return nil, err
	}
	r, err := callFrom(ctx).agent.Raw().CreateWatcher(ctx, wr)
	if err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	return connect.NewResponse(&filesystempb.CreateWatcherResponse{WatcherId: r.GetWatcherId()}), nil
}

func (s *filesystemService) GetWatcherEvents(ctx context.Context, req *connect.Request[filesystempb.GetWatcherEventsRequest]) (*connect.Response[filesystempb.GetWatcherEventsResponse], error) {
	if req.Msg.GetWatcherId() == "" {
		return nil, invalidArg("watcher_id is required")
	}
	r, err := callFrom(ctx).agent.Raw().WatcherEvents(ctx, &agentv1.WatcherEventsRequest{WatcherId: req.Msg.GetWatcherId()})
	if err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	out := &filesystempb.GetWatcherEventsResponse{}
	for _, ev := range r.GetEvents() {
		out.Events = append(out.Events, s.fsEvent(ctx, "", ev, false))
	}
	return connect.NewResponse(out), nil
}

func (s *filesystemService) RemoveWatcher(ctx context.Context, req *connect.Request[filesystempb.RemoveWatcherRequest]) (*connect.Response[filesystempb.RemoveWatcherResponse], error) {
	if req.Msg.GetWatcherId() == "" {
		return nil, invalidArg("watcher_id is required")
	}
	if _, err := callFrom(ctx).agent.Raw().RemoveWatcher(ctx, &agentv1.RemoveWatcherRequest{WatcherId: req.Msg.GetWatcherId()}); err != nil {
		return nil, connectErr(ctx, s.h.log, err)
	}
	return connect.NewResponse(&filesystempb.RemoveWatcherResponse{}), nil
}
