package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

func (s *Server) adminRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/admin/users", access: admin, summary: "List users.", resp: listResponse[userView]{}, handler: s.listUsers},
		{method: "POST", pattern: "/v1/admin/users", access: admin, summary: "Create a user, optionally as a member of a team.", req: createUserRequest{}, resp: userView{}, status: http.StatusCreated, handler: s.createUser},
		{method: "POST", pattern: "/v1/admin/users/{id}/disable", access: admin, summary: "Disable a user and end their sessions.", resp: userView{}, handler: s.setUserDisabled(true)},
		{method: "POST", pattern: "/v1/admin/users/{id}/enable", access: admin, summary: "Enable a disabled user.", resp: userView{}, handler: s.setUserDisabled(false)},
		{method: "GET", pattern: "/v1/admin/teams", access: admin, summary: "List teams.", resp: listResponse[teamView]{}, handler: s.listTeams},
		{method: "POST", pattern: "/v1/admin/teams", access: admin, summary: "Create a team.", req: createTeamRequest{}, resp: teamView{}, status: http.StatusCreated, handler: s.createTeam},
		{method: "POST", pattern: "/v1/admin/teams/{id}/disable", access: admin, summary: "Disable a team: its keys and members stop working.", resp: teamView{}, handler: s.setTeamDisabled(true)},
		{method: "POST", pattern: "/v1/admin/teams/{id}/enable", access: admin, summary: "Enable a disabled team.", resp: teamView{}, handler: s.setTeamDisabled(false)},
	}
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, viewUser(u))
	}
	writeJSON(w, http.StatusOK, list(out))
}

type createUserRequest struct {
	Email    string     `json:"email"`
	Password string     `json:"password"`
	IsAdmin  bool       `json:"is_admin,omitempty"`
	TeamID   *id.TeamID `json:"team_id,omitempty"`
	Role     string     `json:"role,omitempty"` // owner|member (default member)
}

func (q *createUserRequest) validate() error {
	if err := checkText("email", q.Email, 3, 254, false); err != nil {
		return err
	}
	if at := strings.IndexByte(q.Email, '@'); at < 1 || at == len(q.Email)-1 || strings.ContainsAny(q.Email, " \t") {
		return errInvalid("email", "must be an email address")
	}
	if len(q.Password) < minPasswordLen || len(q.Password) > 1024 {
		return errInvalid("password", "must be between %d and 1024 bytes", minPasswordLen)
	}
	switch q.Role {
	case "":
		q.Role = "member"
	case "owner", "member":
	default:
		return errInvalid("role", "must be owner or member")
	}
	if q.TeamID != nil && *q.TeamID == id.PlatformTeamID {
		return errInvalid("team_id", "users cannot join the platform team")
	}
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var u db.User
	err = s.store.Tx(r.Context(), func(q *db.Queries) error {
		var err error
		if req.TeamID != nil {
			if _, err := q.GetTeam(r.Context(), *req.TeamID); err != nil {
				if errors.Is(store.Map(err), store.ErrNotFound) {
					return errInvalid("team_id", "no such team")
				}
				return store.Map(err)
			}
		}
		u, err = q.CreateUser(r.Context(), db.CreateUserParams{ID: id.NewUserID(), Email: req.Email, PasswordHash: hash, IsAdmin: req.IsAdmin})
		if err != nil {
			return mapStore(store.Map(err), "a user with this email")
		}
		if req.TeamID != nil {
			return store.Map(q.AddTeamMember(r.Context(), db.AddTeamMemberParams{TeamID: *req.TeamID, UserID: u.ID, Role: req.Role}))
		}
		return nil
	})
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.audit(r, "user.create", "user", u.ID.String(), nil)
	writeJSON(w, http.StatusCreated, viewUser(u))
}

func (s *Server) setUserDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		uid, err := pathID(r, "id", id.ParseUserID)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if disabled && uid == principalFrom(r.Context()).UserID {
			writeError(w, r, s.log, errInvalid("id", "you cannot disable yourself"))
			return
		}
		var u db.User
		err = s.store.Tx(r.Context(), func(q *db.Queries) error {
			var err error
			if u, err = q.SetUserDisabled(r.Context(), db.SetUserDisabledParams{ID: uid, Disabled: disabled}); err != nil {
				return mapStore(store.Map(err), "user")
			}
			if disabled {
				return store.Map(q.DeleteUserSessions(r.Context(), uid))
			}
			return nil
		})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.audit(r, map[bool]string{true: "user.disable", false: "user.enable"}[disabled], "user", uid.String(), nil)
		writeJSON(w, http.StatusOK, viewUser(u))
	}
}

func (s *Server) listTeams(w http.ResponseWriter, r *http.Request) {
	teams, err := s.store.ListTeams(r.Context())
	if err != nil {
		writeError(w, r, s.log, store.Map(err))
		return
	}
	out := make([]teamView, 0, len(teams))
	for _, t := range teams {
		out = append(out, viewTeam(t))
	}
	writeJSON(w, http.StatusOK, list(out))
}

type createTeamRequest struct {
	Name string `json:"name"`
}

func (q *createTeamRequest) validate() error { return checkText("name", q.Name, 1, 128, false) }

func (s *Server) createTeam(w http.ResponseWriter, r *http.Request) {
	var req createTeamRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	t, err := s.store.CreateTeam(r.Context(), db.CreateTeamParams{ID: id.NewTeamID(), Name: req.Name})
	if err != nil {
		writeError(w, r, s.log, mapStore(store.Map(err), "a team with this name"))
		return
	}
	s.audit(r, "team.create", "team", t.ID.String(), nil)
	writeJSON(w, http.StatusCreated, viewTeam(t))
}

func (s *Server) setTeamDisabled(disabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tid, err := pathID(r, "id", id.ParseTeamID)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if tid == id.PlatformTeamID {
			writeError(w, r, s.log, errInvalid("id", "the platform team cannot be changed"))
			return
		}
		t, err := s.store.SetTeamDisabled(r.Context(), db.SetTeamDisabledParams{ID: tid, Disabled: disabled})
		if err != nil {
			writeError(w, r, s.log, mapStore(store.Map(err), "team"))
			return
		}
		s.audit(r, map[bool]string{true: "team.disable", false: "team.enable"}[disabled], "team", tid.String(), nil)
		writeJSON(w, http.StatusOK, viewTeam(t))
	}
}
