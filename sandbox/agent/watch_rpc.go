package agent

import (
	"context"

	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// Watch implements agentv1.AgentServer.
func (s *server) Watch(req *agentv1.WatchRequest, stream agentv1.Agent_WatchServer) error {
	w, err := s.newWatcher(req, false)
	if err != nil {
		return err
	}
	defer s.removeWatcher(w)
	if err := stream.Send(&agentv1.WatchResponse{Started: true}); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-w.notify:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
		events, werr := w.take()
		for _, ev := range events {
			if err := stream.Send(&agentv1.WatchResponse{Event: ev}); err != nil {
				return err
			}
		}
		if werr != nil {
			return werr
		}
	}
}

// CreateWatcher implements agentv1.AgentServer.
func (s *server) CreateWatcher(_ context.Context, req *agentv1.WatchRequest) (*agentv1.CreateWatcherResponse, error) {
	w, err := s.newWatcher(req, true)
	if err != nil {
		return nil, err
	}
	return &agentv1.CreateWatcherResponse{WatcherId: w.id}, nil
}

// WatcherEvents implements agentv1.AgentServer. A watcher that failed
// returns its error (after the events it still held) and is removed.
func (s *server) WatcherEvents(_ context.Context, req *agentv1.WatcherEventsRequest) (*agentv1.WatcherEventsResponse, error) {
	w, err := s.polledWatcher(req.GetWatcherId())
	if err != nil {
		return nil, err
	}
	events, werr := w.take()
	if werr != nil && len(events) == 0 {
		s.removeWatcher(w)
		return nil, werr
	}
	return &agentv1.WatcherEventsResponse{Events: events}, nil
}

// RemoveWatcher implements agentv1.AgentServer.
func (s *server) RemoveWatcher(_ context.Context, req *agentv1.RemoveWatcherRequest) (*agentv1.RemoveWatcherResponse, error) {
	w, err := s.polledWatcher(req.GetWatcherId())
	if err != nil {
		return nil, err
	}
	s.removeWatcher(w)
	return &agentv1.RemoveWatcherResponse{}, nil
}
