package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/bench"
)

func init() { commands = append(commands, newBenchCmd) }

func newBenchCmd() *cobra.Command {
	cfg := bench.DefaultConfig()
	var output, bootstrap string
	cmd := &cobra.Command{
		Use:   "bench [create|exec|idle-memory|density ...]",
		Short: "Load-generate against a node: create/exec latency percentiles, idle memory, density",
		Long: `bench drives a node through the REST API and prints p50/p90/p99/max per measurement.

Scenarios (all when none is named):
  create       create→exec-ready latency: --n creates one at a time, then --n with --concurrency in flight
  exec         exec round trip of ` + "`true`" + ` on one sandbox, --exec-n times
  idle-memory  memory of --idle-n idle sandboxes (their memory cgroups and host MemAvailable; node on this host)
  density      create idle sandboxes until --density-max, the first failure or a 429; check each answers an exec

Every sandbox the bench creates is killed before it exits, on Ctrl-C too.
The URL and key come from the flags, else WARREN_URL / WARREN_API_KEY, else the key from --bootstrap.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			scenarios, err := bench.ParseScenarios(args)
			if err != nil {
				return err
			}
			if output != "table" && output != "json" {
				return fmt.Errorf("-o: %q is not table or json", output)
			}
			if err := resolveEndpoint(&cfg, bootstrap); err != nil {
				return err
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			r, err := bench.New(cfg)
			if err != nil {
				return err
			}
			res, runErr := r.Run(cmd.Context(), scenarios)
			if output == "json" {
				err = bench.WriteJSON(cmd.OutOrStdout(), res)
			} else {
				err = bench.WriteTable(cmd.OutOrStdout(), res)
			}
			return errors.Join(runErr, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", "", "the node's REST API (env WARREN_URL; default "+cfg.URL+")")
	f.StringVar(&cfg.APIKey, "api-key", "", "a team API key (env WARREN_API_KEY)")
	f.StringVar(&bootstrap, "bootstrap", "", "a node's bootstrap.json (<data-dir>/bootstrap.json) to take the API key from")
	f.StringVar(&cfg.Template, "template", cfg.Template, "template every sandbox starts from")
	f.IntVar(&cfg.N, "n", cfg.N, "creates per create phase")
	f.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "creates in flight in the concurrent phase (and cleanup parallelism)")
	f.IntVar(&cfg.ExecN, "exec-n", cfg.ExecN, "timed execs in the exec scenario")
	f.IntVar(&cfg.IdleN, "idle-n", cfg.IdleN, "idle sandboxes the idle-memory scenario measures")
	f.IntVar(&cfg.DensityMax, "density-max", cfg.DensityMax, "the density scenario stops after this many sandboxes")
	f.Int64Var(&cfg.MemoryMB, "memory-mb", cfg.MemoryMB, "memory_mb of every sandbox")
	f.Int64Var(&cfg.DiskSizeMB, "disk-size-mb", cfg.DiskSizeMB, "disk_size_mb of every sandbox")
	f.Int64Var(&cfg.TimeoutSec, "timeout-sec", cfg.TimeoutSec, "TTL of every bench sandbox (a safety net if the bench is killed)")
	f.StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// resolveEndpoint fills the URL and key: flag, then environment, then the
// bootstrap file (key only), then the default URL.
func resolveEndpoint(cfg *bench.Config, bootstrap string) error {
	def := bench.DefaultConfig().URL
	if cfg.URL == "" {
		cfg.URL = os.Getenv("WARREN_URL")
	}
	if cfg.URL == "" {
		cfg.URL = def
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("WARREN_API_KEY")
	}
	if cfg.APIKey == "" && bootstrap != "" {
		raw, err := os.ReadFile(bootstrap)
		if err != nil {
			return fmt.Errorf("--bootstrap: %w", err)
		}
		var b struct {
			APIKey string `json:"api_key"`
		}
		if err := json.Unmarshal(raw, &b); err != nil || b.APIKey == "" {
			return fmt.Errorf("--bootstrap: %s holds no api_key (err: %v)", bootstrap, err)
		}
		cfg.APIKey = b.APIKey
	}
	if cfg.APIKey == "" {
		return errors.New("--api-key: is required (or WARREN_API_KEY, or --bootstrap <data-dir>/bootstrap.json)")
	}
	return nil
}
