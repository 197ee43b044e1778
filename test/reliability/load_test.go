package reliability

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one route under load: requests go to addr with Host host and
// must answer 200 from the backend named backend.
type target struct {
	addr, host, path, backend string
}

// load sends requests to a target from workers connections until Stop, its
// duration ends, or each worker has sent maxPerWorker requests; it records
// every latency. A worker pauses about 1 ms between requests, so the load is
// bounded (at most ~1000 req/s per worker) and leaves CPU for Portico.
type load struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	started  time.Time
	tr       *http.Transport
	ok       atomic.Int64
	failed   atomic.Int64 // answered, but not 200 from the right backend
	connErrs atomic.Int64 // no answer at all
	first    atomic.Value // string: the first problem
	mu       sync.Mutex
	lat      []time.Duration
	// hold, when set, stops workers from starting new requests (a load
	// balancer that saw /readyz fail); requests already sent still count.
	hold atomic.Bool
}

const maxPerWorker = 200_000

func startLoad(tg target, workers int, d time.Duration) *load {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	l := &load{cancel: cancel, started: time.Now()}
	l.tr = &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, tg.addr)
		}}
	client := &http.Client{Transport: l.tr, Timeout: 15 * time.Second}
	for range workers {
		l.wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			defer func() {
				l.mu.Lock()
				l.lat = append(l.lat, lat...)
				l.mu.Unlock()
			}()
			for n := 0; n < maxPerWorker && ctx.Err() == nil; n++ {
				if l.hold.Load() {
					break
				}
				start := time.Now()
				err := l.once(client, tg)
				lat = append(lat, time.Since(start))
				if err != nil {
					l.first.CompareAndSwap(nil, err.Error())
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	return l
}

func (l *load) once(c *http.Client, tg target) error {
	req, _ := http.NewRequest(http.MethodGet, "http://"+tg.host+tg.path, nil)
	resp, err := c.Do(req)
	if err != nil {
		l.connErrs.Add(1)
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		l.connErrs.Add(1)
		return fmt.Errorf("read body: %w", err)
	}
	if got := resp.Header.Get("X-Backend"); resp.StatusCode != http.StatusOK || got != tg.backend {
		l.failed.Add(1)
		return fmt.Errorf("%d from %q, want 200 from %q", resp.StatusCode, got, tg.backend)
	}
	l.ok.Add(1)
	return nil
}

// loadResult is what a load run measured.
type loadResult struct {
	OK, Failed, ConnErrs int64
	Elapsed              time.Duration
	P50, P99, Max        time.Duration
	First                string
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d requests in %s (%.0f/s): %d ok, %d failed, %d connection errors; p50 %s p99 %s max %s",
		r.OK+r.Failed+r.ConnErrs, r.Elapsed.Round(time.Millisecond), float64(r.OK+r.Failed+r.ConnErrs)/r.Elapsed.Seconds(),
		r.OK, r.Failed, r.ConnErrs, r.P50, r.P99, r.Max)
}

// Stop ends the run (or waits for its natural end when wait is true) and
// returns the figures.
func (l *load) Stop(wait bool) loadResult {
	if !wait {
		l.cancel()
	}
	l.wg.Wait()
	l.cancel()
	l.tr.CloseIdleConnections()
	r := loadResult{OK: l.ok.Load(), Failed: l.failed.Load(), ConnErrs: l.connErrs.Load(), Elapsed: time.Since(l.started)}
	r.First, _ = l.first.Load().(string)
	slices.Sort(l.lat)
	if n := len(l.lat); n > 0 {
		q := func(p float64) time.Duration { return l.lat[min(n-1, int(float64(n)*p))].Round(10 * time.Microsecond) }
		r.P50, r.P99, r.Max = q(0.50), q(0.99), l.lat[n-1].Round(10*time.Microsecond)
	}
	return r
}
