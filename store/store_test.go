package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestSchemaUsesUUIDKeysAndDiskDefault(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	rows, err := st.Pool.Query(ctx, `
		SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND (column_name = 'id' OR column_name LIKE '%\_id')
		  AND table_name <> 'goose_db_version'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			t.Fatal(err)
		}
		n++
		polymorphic := table == "audit_logs" && (col == "actor_id" || col == "resource_id" || col == "request_id")
		switch {
		case table == "audit_logs" && col == "id":
			// a log sequence, not an entity
		case table == "cluster_fence" && col == "id":
			// the one row's fixed key (1), not an entity
		case polymorphic && typ != "text":
			t.Errorf("%s.%s is %s, want text (polymorphic)", table, col, typ)
		case !polymorphic && typ != "uuid":
			t.Errorf("%s.%s is %s, want uuid", table, col, typ)
		}
	}
	if n < 20 {
		t.Fatalf("only %d id columns found", n)
	}
	var def string
	if err := st.Pool.QueryRow(ctx, `SELECT column_default FROM information_schema.columns
		WHERE table_name = 'sandboxes' AND column_name = 'disk_size_mb'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if def != "20480" {
		t.Fatalf("sandboxes.disk_size_mb default = %q, want 20480", def)
	}
	// The platform team exists with the all-zero ID.
	team, err := st.GetTeam(ctx, id.PlatformTeamID)
	if err != nil || team.Name != "platform" {
		t.Fatalf("platform team: %+v %v", team, err)
	}
	// A non-positive disk size is refused by the database itself.
	_, err = st.Pool.Exec(ctx, `INSERT INTO sandboxes (id, team_id, template_name, status, vcpus, memory_mb, disk_size_mb, timeout_sec)
		VALUES ($1, $2, 'x', 'creating', 1, 512, 0, 60)`, uuid.New(), id.PlatformTeamID)
	if !errors.Is(store.Map(err), store.ErrInvalid) {
		t.Fatalf("disk_size_mb = 0 accepted or wrong error: %v", err)
	}
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- st.Migrate(ctx) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestPlatformTemplatesVisibleToEveryTeam(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	a, err := st.CreateTeam(ctx, db.CreateTeamParams{ID: id.NewTeamID(), Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateTeam(ctx, db.CreateTeamParams{ID: id.NewTeamID(), Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(team id.TeamID, name string) (db.Template, error) {
		tpl, err := st.CreateTemplate(ctx, db.CreateTemplateParams{
			ID: id.NewTemplateID(), TeamID: team, Name: name, Type: "image", Vcpus: 1, MemoryMb: 512,
		})
		return tpl, store.Map(err)
	}
	base, err := mk(id.PlatformTeamID, "base")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk(a.ID, "mine"); err != nil {
		t.Fatal(err)
	}
	for _, team := range []db.Team{a, b} {
		list, err := st.ListTemplatesByTeam(ctx, team.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, tpl := range list {
			found = found || tpl.ID == base.ID
			if tpl.Name == "mine" && team.ID == b.ID {
				t.Errorf("team b sees team a's template")
			}
		}
		if !found {
			t.Errorf("team %s does not see the platform template", team.Name)
		}
		got, err := st.GetTemplateByTeamAndName(ctx, db.GetTemplateByTeamAndNameParams{Name: "base", TeamID: team.ID})
		if err != nil || got.ID != base.ID {
			t.Errorf("GetTemplateByTeamAndName(base) for %s: %v", team.Name, err)
		}
		byType, err := st.ListTemplatesByTeamAndType(ctx, db.ListTemplatesByTeamAndTypeParams{TeamID: team.ID, Type: "image"})
		if err != nil || len(byType) == 0 {
			t.Errorf("ListTemplatesByTeamAndType for %s: %d, %v", team.Name, len(byType), err)
		}
	}
	// A team template cannot take a platform template's name, nor the reverse.
	if _, err := mk(b.ID, "base"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("team template named like a platform one: %v", err)
	}
	if _, err := mk(id.PlatformTeamID, "mine"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("platform template named like a team one: %v", err)
	}
	// Team a cannot read team b's template by ID.
	tb, err := mk(b.ID, "theirs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetTemplateByTeam(ctx, db.GetTemplateByTeamParams{ID: tb.ID, TeamID: a.ID}); !errors.Is(store.Map(err), store.ErrNotFound) {
		t.Fatalf("team a read team b's template: %v", err)
	}
}
