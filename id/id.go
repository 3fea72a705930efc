// Package id defines Warren's typed identifiers. Every entity has its own Go type over
// a UUID, so a sandbox ID can never be passed where a team ID is expected. Inside the
// program IDs stay typed; the prefixed wire form ("sb-<uuid>", "team-<uuid>", …) is
// produced by String and parsed by the Parse functions only at API and RPC
// boundaries. New IDs are UUIDv7, so they sort by creation time.
package id

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid id")

// Kind names an entity type and carries its wire prefix.
type Kind struct {
	Name   string // human name, used in error messages
	Prefix string // wire prefix including the dash
}

// The entity kinds.
var (
	KindSandbox  = Kind{"sandbox", "sb-"}
	KindUser     = Kind{"user", "usr-"}
	KindTeam     = Kind{"team", "team-"}
	KindTemplate = Kind{"template", "tpl-"}
	KindBuild    = Kind{"build", "bld-"}
	KindNode     = Kind{"node", "node-"}
	KindAPIKey   = Kind{"api key", "key-"}
)

// kind is implemented by the marker types below; it ties an ID type to its Kind.
type kind interface{ kind() Kind }

type (
	sandboxKind  struct{}
	userKind     struct{}
	teamKind     struct{}
	templateKind struct{}
	buildKind    struct{}
	nodeKind     struct{}
	apiKeyKind   struct{}
)

func (sandboxKind) kind() Kind  { return KindSandbox }
func (userKind) kind() Kind     { return KindUser }
func (teamKind) kind() Kind     { return KindTeam }
func (templateKind) kind() Kind { return KindTemplate }
func (buildKind) kind() Kind    { return KindBuild }
func (nodeKind) kind() Kind     { return KindNode }
func (apiKeyKind) kind() Kind   { return KindAPIKey }

// ID is a UUID tagged with its entity kind. ID[sandboxKind] and ID[teamKind] are
// distinct types, so IDs of different entities cannot be mixed up. The zero value is
// the nil UUID.
type ID[K kind] uuid.UUID

// Typed IDs, one per entity.
type (
	SandboxID  = ID[sandboxKind]
	UserID     = ID[userKind]
	TeamID     = ID[teamKind]
	TemplateID = ID[templateKind]
	BuildID    = ID[buildKind]
	NodeID     = ID[nodeKind]
	APIKeyID   = ID[apiKeyKind]
)

// Constructors and parsers for each kind.
var (
	NewSandboxID  = New[sandboxKind]
	NewUserID     = New[userKind]
	NewTeamID     = New[teamKind]
	NewTemplateID = New[templateKind]
	NewBuildID    = New[buildKind]
	NewNodeID     = New[nodeKind]
	NewAPIKeyID   = New[apiKeyKind]

	ParseSandboxID  = Parse[sandboxKind]
	ParseUserID     = Parse[userKind]
	ParseTeamID     = Parse[teamKind]
	ParseTemplateID = Parse[templateKind]
	ParseBuildID    = Parse[buildKind]
	ParseNodeID     = Parse[nodeKind]
	ParseAPIKeyID   = Parse[apiKeyKind]
)

// New returns a new time-ordered (UUIDv7) ID of kind K.
func New[K kind]() ID[K] { return ID[K](newV7()) }

// Parse parses the wire form: K's prefix followed by a canonical UUID.
func Parse[K kind](s string) (ID[K], error) {
	var k K
	u, err := parse(k.kind(), s)
	return ID[K](u), err
}

// Kind returns the ID's entity kind.
func (i ID[K]) Kind() Kind {
	var k K
	return k.kind()
}

// String returns the wire form, e.g. "sb-0190…".
func (i ID[K]) String() string { return format(i.Kind(), uuid.UUID(i)) }

// UUID returns the underlying UUID, for storage.
func (i ID[K]) UUID() uuid.UUID { return uuid.UUID(i) }

// IsZero reports whether the ID is the nil UUID.
func (i ID[K]) IsZero() bool { return uuid.UUID(i) == uuid.Nil }

// MarshalText implements encoding.TextMarshaler with the wire form.
func (i ID[K]) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (i *ID[K]) UnmarshalText(b []byte) error {
	v, err := Parse[K](string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// PlatformTeamID owns the platform templates every team can see: the all-zero UUID.
var PlatformTeamID = TeamID(uuid.Nil)

func newV7() uuid.UUID {
	u, err := uuid.NewV7()
	if err != nil {
		// NewV7 only fails when the system's random source fails.
		panic(fmt.Sprintf("id: generating UUIDv7: %v", err))
	}
	return u
}

func format(k Kind, u uuid.UUID) string { return k.Prefix + u.String() }

// parse accepts exactly "<prefix><canonical 36-character uuid>".
func parse(k Kind, s string) (uuid.UUID, error) {
	rest, ok := strings.CutPrefix(s, k.Prefix)
	if !ok {
		return uuid.Nil, fmt.Errorf("%w: %s id %q must start with %q", ErrInvalid, k.Name, truncate(s), k.Prefix)
	}
	if len(rest) != 36 {
		return uuid.Nil, fmt.Errorf("%w: %s id %q is not %s followed by a UUID", ErrInvalid, k.Name, truncate(s), k.Prefix)
	}
	u, err := uuid.Parse(rest)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: %s id %q is not %s followed by a UUID", ErrInvalid, k.Name, truncate(s), k.Prefix)
	}
	return u, nil
}

// truncate keeps error messages bounded when callers pass huge strings.
func truncate(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
