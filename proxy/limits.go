package proxy

import "portico.dev/portico/router"

// limits sets the request's tries and timeouts from the route's options.
func (c *call) limits(o *router.Options) {
	d := &c.p.cfg.Defaults
	c.tries = o.NextUpstreamTries
	if c.tries <= 0 {
		c.tries = d.Tries
	}
	if c.retry = o.Retry; c.retry != nil {
		c.tries = max(c.retry.Attempts, 0) + 1
	}
	if n := o.NextUpstream; n != nil && c.retry == nil {
		c.next = n
		if o.NextUpstreamTries <= 0 {
			c.tries = nginxTries
		}
		if n.Off() {
			c.tries = 1
		}
	}
	c.tries = min(c.tries, maxTries)
	c.readTimeout, c.sendTimeout = orDefault(o.ReadTimeout, d.ReadTimeout), orDefault(o.SendTimeout, d.SendTimeout)
	if o.RequestTimeout != 0 || o.BackendTimeout != 0 {
		// The rule's timeouts say how long a backend may take; the
		// default read timeout would only cut them short.
		c.readTimeout = 0
	}
	if o.RequestTimeout > 0 {
		c.mu.Lock()
		c.reqDeadline = monotime() + int64(o.RequestTimeout)
		c.mu.Unlock()
	}
}
