package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/api/client"
	"github.com/warrenhq/warren/node"
)

// clientConfig is what `warren login` stores: the server and the key.
type clientConfig struct {
	URL    string `json:"url"`
	APIKey string `json:"api_key"`
}

// configPath is $XDG_CONFIG_HOME/warren/config.json, else
// ~/.config/warren/config.json.
func configPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the config directory: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "warren", "config.json"), nil
}

// loadConfig reads the stored config; a missing file is an empty config.
func loadConfig() (clientConfig, string, error) {
	var cfg clientConfig
	p, err := configPath()
	if err != nil {
		return cfg, "", err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, p, nil
	}
	if err != nil {
		return cfg, p, fmt.Errorf("reading %s: %w", p, err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, p, fmt.Errorf("%s: %w", p, err)
	}
	return cfg, p, nil
}

// saveConfig writes cfg readable by the owner only, atomically.
func saveConfig(cfg clientConfig) (string, error) {
	p, err := configPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return p, fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(p), ".config-*.json")
	if err != nil {
		return p, fmt.Errorf("writing %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.Write(append(b, '\n'))
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return p, fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

// clientFlags are the flags every client command shares.
type clientFlags struct {
	url, apiKey, output string
}

// addClientFlags binds --url, --api-key and -o as persistent flags of a
// top-level client command, so they work on each of its subcommands.
func addClientFlags(cmd *cobra.Command) *clientFlags {
	f := &clientFlags{}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", "", "Warren server URL (env WARREN_URL; default from warren login)")
	pf.StringVar(&f.apiKey, "api-key", "", "API key (env WARREN_API_KEY; default from warren login)")
	pf.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	return f
}

// credentials resolves the URL and key: flag, then environment, then the
// stored config.
func (f *clientFlags) credentials() (url, key string, err error) {
	url, key = f.url, f.apiKey
	if url == "" {
		url = os.Getenv("WARREN_URL")
	}
	if key == "" {
		key = os.Getenv("WARREN_API_KEY")
	}
	if url == "" || key == "" {
		cfg, _, err := loadConfig()
		if err != nil {
			return "", "", err
		}
		if url == "" {
			url = cfg.URL
		}
		if key == "" {
			key = cfg.APIKey
		}
	}
	return strings.TrimRight(url, "/"), key, nil
}

// client returns an API client from the resolved credentials.
func (f *clientFlags) client() (*client.Client, error) {
	if err := f.checkOutput(); err != nil {
		return nil, err
	}
	url, key, err := f.credentials()
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, errors.New("no server: run `warren login`, or pass --url or set WARREN_URL")
	}
	if key == "" {
		return nil, errors.New("no API key: run `warren login`, or pass --api-key or set WARREN_API_KEY")
	}
	c, err := client.New(url, key, client.WithUserAgent("warren-cli/"+node.Version))
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	return c, nil
}

func (f *clientFlags) checkOutput() error {
	switch f.output {
	case "table", "json":
		return nil
	}
	return fmt.Errorf("--output: %q is not table or json", f.output)
}

func (f *clientFlags) json() bool { return f.output == "json" }
