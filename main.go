// Command warren is the single Warren binary: node daemon, in-sandbox agent and
// client. See cli.Run.
package main

import (
	"context"
	"os"

	"github.com/warrenhq/warren/cli"
)

func main() { os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
