// Command portico is a Kubernetes HTTP(S) ingress controller: it watches
// Ingresses and their Services, compiles them into a routing table, and
// proxies traffic to the Services' ready endpoints.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "version":
			fmt.Println("portico", version)
			return
		case "routes":
			os.Exit(routesCommand(os.Args[2:], os.Stdout, os.Stderr))
		case "nginx-check":
			os.Exit(nginxCheckCommand(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
		}
	}
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		os.Exit(1)
	}
}
