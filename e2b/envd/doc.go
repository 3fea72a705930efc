// Package envd serves E2B's in-sandbox protocol ("envd") on every node.
package envd
