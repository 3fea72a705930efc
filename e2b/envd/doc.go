// Package envd serves E2B's in-sandbox protocol ("envd") on every node, so
// the unmodified e2b SDK can run commands and use files in Warren sandboxes.
//
// Handler is one http.Handler: the Connect services process.Process and
// filesystem.Filesystem (connect-go, JSON and binary codecs, the streaming
// envelopes of the Connect protocol), HTTP GET/POST /files (download;
// multipart or, from envd 0.5.7 on, octet-stream upload) and GET /health.
// Every request names its sandbox in the E2b-Sandbox-Id header (the node's
// dispatcher sets it for the <port>-<id>.<domain> host form too) and carries
// the sandbox's access token in X-Access-Token (or, for /files, a signature
// made from it); Config.Authorize turns the pair into the owning team or
// refuses it. Calls then go to the sandbox's agent (Config.Agents, relayed to
// the owner node): the E2B layer translates, the agent does the work.
//
// Processes started through envd run with keep_running, as E2B's do: ending
// the Start stream detaches, Connect attaches again. commands.run's
// `/bin/bash -l -c CMD` falls back to /bin/sh when the template has no
// bash. The Linux user comes from `Authorization: Basic base64("user:")`,
// default DefaultUser; relative paths are taken from that user's home.
package envd
