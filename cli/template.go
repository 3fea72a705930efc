package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/warrenhq/warren/api/client"
)

func init() { commands = append(commands, newTemplateCmd) }

func newTemplateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "template",
		Aliases: []string{"tpl"},
		Short:   "List, remove and build templates",
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(newTemplateListCmd(f), newTemplateRmCmd(f), newTemplateBuildCmd(f))
	return cmd
}

func newTemplateListCmd(f *clientFlags) *cobra.Command {
	var (
		typ string
		all bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the team's and the platform's templates",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var tpls []client.Template
			if all {
				tpls, err = c.ListAllTemplates(cmd.Context())
			} else {
				tpls, err = c.ListTemplates(cmd.Context(), typ)
			}
			if err != nil {
				return err
			}
			if tpls == nil {
				tpls = []client.Template{}
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), tpls)
			}
			t := newTable(cmd.OutOrStdout(), "ID", "NAME", "TYPE", "SIZE", "VCPUS", "MEMORY", "OWNER", "CREATED")
			for _, tp := range tpls {
				owner := "team"
				switch {
				case tp.Platform:
					owner = "platform"
				case tp.TeamName != "":
					owner = tp.TeamName
				}
				t.row(tp.ID, tp.Name, tp.Type, humanBytes(tp.SizeBytes), strconv.FormatFloat(tp.VCPUs, 'g', -1, 64),
					fmt.Sprintf("%d MB", tp.MemoryMB), owner, ago(tp.CreatedAt))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "only image or snapshot templates")
	cmd.Flags().BoolVar(&all, "all", false, "every team's templates (admin)")
	return cmd
}

func newTemplateRmCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm TEMPLATE...",
		Aliases: []string{"delete"},
		Short:   "Delete templates (by tpl- ID)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var failed []error
			for _, id := range args {
				if err := c.DeleteTemplate(cmd.Context(), id); err != nil {
					failed = append(failed, fmt.Errorf("%s: %w", id, err))
					continue
				}
				if !f.json() {
					fmt.Fprintln(cmd.OutOrStdout(), "deleted", id)
				}
			}
			return errors.Join(failed...)
		},
	}
}

// recipe is the YAML file `warren template build -f` reads.
type recipe struct {
	Name           string              `yaml:"name"`
	BaseTemplate   string              `yaml:"base_template"`
	Steps          []string            `yaml:"steps"`
	StartCmd       string              `yaml:"start_cmd"`
	Healthcheck    *client.Healthcheck `yaml:"healthcheck"`
	VCPUs          float64             `yaml:"vcpus"`
	MemoryMB       int64               `yaml:"memory_mb"`
	DiskSizeMB     int64               `yaml:"disk_size_mb"`
	StepTimeoutSec int64               `yaml:"step_timeout_sec"`
}

// parseRecipe reads a recipe strictly: unknown keys are errors, so a typo does
// not silently drop a setting.
func parseRecipe(name string, r io.Reader) (client.CreateBuild, error) {
	var rc recipe
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&rc); err != nil {
		if errors.Is(err, io.EOF) {
			return client.CreateBuild{}, fmt.Errorf("%s: the recipe is empty", name)
		}
		return client.CreateBuild{}, fmt.Errorf("%s: %w", name, err)
	}
	if strings.TrimSpace(rc.Name) == "" {
		return client.CreateBuild{}, fmt.Errorf("%s: name: is required", name)
	}
	if len(rc.Steps) == 0 {
		return client.CreateBuild{}, fmt.Errorf("%s: steps: at least one step is required", name)
	}
	for i, s := range rc.Steps {
		if strings.TrimSpace(s) == "" {
			return client.CreateBuild{}, fmt.Errorf("%s: steps[%d]: is empty", name, i)
		}
	}
	if rc.Healthcheck != nil && strings.TrimSpace(rc.Healthcheck.Cmd) == "" {
		return client.CreateBuild{}, fmt.Errorf("%s: healthcheck.cmd: is required when healthcheck is set", name)
	}
	if rc.Healthcheck != nil && rc.StartCmd == "" {
		return client.CreateBuild{}, fmt.Errorf("%s: healthcheck: needs start_cmd", name)
	}
	return client.CreateBuild{Name: rc.Name, BaseTemplate: rc.BaseTemplate, Recipe: rc.Steps, StartCmd: rc.StartCmd,
		Healthcheck: rc.Healthcheck, VCPUs: rc.VCPUs, MemoryMB: rc.MemoryMB, DiskSizeMB: rc.DiskSizeMB,
		StepTimeoutSec: rc.StepTimeoutSec}, nil
}

func newTemplateBuildCmd(f *clientFlags) *cobra.Command {
	var (
		file, name string
		follow     bool
	)
	cmd := &cobra.Command{
		Use:   "build -f RECIPE.yaml",
		Short: "Build a template from a YAML recipe (admin)",
		Long: `Queues a build of the recipe; --follow prints each step's output as it ends and waits
for the result (exit status 1 when the build fails). The recipe:

  name: python                  # the template's name (required)
  base_template: base           # template to start from (default base)
  steps:                        # shell commands run in order as root (required)
    - apt-get update
    - apt-get install -y python3
  start_cmd: python3 -m http.server 8000   # optional: snapshot a running process
  healthcheck:                  # optional, with start_cmd
    cmd: wget -q -O- http://127.0.0.1:8000/
    interval_sec: 2
    timeout_sec: 5
    retries: 10
    start_period_sec: 1
  vcpus: 2
  memory_mb: 1024
  disk_size_mb: 8192
  step_timeout_sec: 600`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return errors.New("-f: the recipe file is required (- reads stdin)")
			}
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("-f: %w", err)
			}
			req, err := parseRecipe(file, bytes.NewReader(data))
			if err != nil {
				return err
			}
			if name != "" {
				req.Name = name
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			b, err := c.CreateBuild(cmd.Context(), req)
			if err != nil {
				return err
			}
			if !follow {
				if f.json() {
					return printJSON(cmd.OutOrStdout(), b)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "build %s queued; follow it with: warren build logs --follow %s\n", b.ID, b.ID)
				return nil
			}
			if !f.json() {
				fmt.Fprintf(cmd.ErrOrStderr(), "build %s queued\n", b.ID)
			}
			return followBuild(cmd, f, c, b.ID)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the recipe (YAML; - for stdin)")
	cmd.Flags().StringVar(&name, "name", "", "template name (overrides the recipe's)")
	cmd.Flags().BoolVar(&follow, "follow", false, "print step logs and wait until the build ends")
	return cmd
}
