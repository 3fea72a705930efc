package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/api/client"
	"github.com/warrenhq/warren/node"
)

func init() { commands = append(commands, newLoginCmd) }

const defaultURL = "http://127.0.0.1:8080"

func newLoginCmd() *cobra.Command {
	var f *clientFlags
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Store the server URL and API key for the client commands",
		Long: "Asks for the server URL and an API key (or takes --url and --api-key, or WARREN_URL and\n" +
			"WARREN_API_KEY), checks them with GET /v1/me, and stores them in\n" +
			"$XDG_CONFIG_HOME/warren/config.json (default ~/.config/warren/config.json), mode 0600.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.checkOutput(); err != nil {
				return err
			}
			url, key := f.url, f.apiKey
			if url == "" {
				url = os.Getenv("WARREN_URL")
			}
			if key == "" {
				key = os.Getenv("WARREN_API_KEY")
			}
			in := bufio.NewReader(cmd.InOrStdin())
			var err error
			if url == "" {
				if url, err = prompt(cmd, in, fmt.Sprintf("Warren URL [%s]: ", defaultURL), false); err != nil {
					return err
				}
				if url == "" {
					url = defaultURL
				}
			}
			if key == "" {
				if key, err = prompt(cmd, in, "API key: ", true); err != nil {
					return err
				}
				if key == "" {
					return errors.New("an API key is required (create one in the UI, or use the one `warren dev` printed)")
				}
			}
			url = strings.TrimRight(url, "/")
			c, err := client.New(url, key, client.WithUserAgent("warren-cli/"+node.Version))
			if err != nil {
				return fmt.Errorf("--url: %w", err)
			}
			me, err := c.Me(cmd.Context())
			if err != nil {
				return fmt.Errorf("checking the key with %s: %w", url, err)
			}
			path, err := saveConfig(clientConfig{URL: url, APIKey: key})
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"url": url, "config": path, "me": me})
			}
			role := ""
			if me.Admin {
				role = " (admin)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as team %s%s; saved to %s\n", url, me.Team.Name, role, path)
			return nil
		},
	}
	f = addClientFlags(cmd)
	return cmd
}

// prompt asks a question on stderr and reads one line; secret input is not
// echoed when stdin is a terminal.
func prompt(cmd *cobra.Command, in *bufio.Reader, question string, secret bool) (string, error) {
	fmt.Fprint(cmd.ErrOrStderr(), question)
	if secret {
		if f, ok := cmd.InOrStdin().(*os.File); ok && isTerminal(f) {
			restore, err := noEcho(int(f.Fd()))
			if err == nil {
				defer func() {
					restore()
					fmt.Fprintln(cmd.ErrOrStderr())
				}()
			}
		}
	}
	line, err := in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the answer to %q: no input (pass --url and --api-key)", strings.TrimSpace(question))
		}
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// noEcho turns terminal echo off and returns the function that restores it.
func noEcho(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
