package harness

import "context"

// Shutdown stops the backend the way a pod's server does on SIGTERM: the
// listener closes at once (new connections are refused), idle connections
// are closed, and requests in flight finish, up to ctx.
func (b *Backend) Shutdown(ctx context.Context) error {
	return b.srv.Shutdown(ctx)
}
