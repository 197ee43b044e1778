package proxy

import "sync"

// bufferPool recycles ReverseProxy copy buffers (32 KiB each), which would
// otherwise be allocated for every response body. It is a bounded stack
// under a mutex rather than a sync.Pool: ReverseProxy's BufferPool hands
// back a bare []byte, and boxing it for sync.Pool.Put allocates on every
// response.
type bufferPool struct {
	mu   sync.Mutex
	free [][]byte
}

// maxFreeBuffers bounds what the pool keeps: 8 MiB.
const maxFreeBuffers = 256

func newBufferPool() *bufferPool { return &bufferPool{} }

func (bp *bufferPool) Get() []byte {
	bp.mu.Lock()
	if n := len(bp.free); n > 0 {
		b := bp.free[n-1]
		bp.free[n-1] = nil
		bp.free = bp.free[:n-1]
		bp.mu.Unlock()
		return b
	}
	bp.mu.Unlock()
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) {
	if cap(b) < 32<<10 {
		return
	}
	bp.mu.Lock()
	if len(bp.free) < maxFreeBuffers {
		bp.free = append(bp.free, b[:32<<10])
	}
	bp.mu.Unlock()
}
