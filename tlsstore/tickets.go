package tlsstore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"sync"
	"time"
)

// ticketKeyHistory is how many keys are kept: the newest seals new tickets,
// and the older ones still open tickets issued before the last rotations, so
// resumption survives a rotation.
const ticketKeyHistory = 3

// defaultTicketRotation is used when RotateTicketKeys gets no period.
const defaultTicketRotation = time.Hour

// ticketKeys seals and opens session tickets for every config the Store
// hands out. It keeps the keys on a private tls.Config so that the sealing
// itself stays crypto/tls's own (EncryptTicket/DecryptTicket). Until the
// first rotation that config manages its own keys, which crypto/tls rotates
// daily.
type ticketKeys struct {
	once sync.Once
	cfg  *tls.Config

	mu   sync.Mutex
	keys [][32]byte // newest first
}

func (t *ticketKeys) config() *tls.Config {
	t.once.Do(func() { t.cfg = &tls.Config{} })
	return t.cfg
}

func (t *ticketKeys) wrap(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	return t.config().EncryptTicket(cs, ss)
}

func (t *ticketKeys) unwrap(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	return t.config().DecryptTicket(identity, cs)
}

// rotate makes a new key the sealing key and forgets the oldest.
func (t *ticketKeys) rotate() {
	var key [32]byte
	rand.Read(key[:]) // never fails since Go 1.24; it crashes the program instead
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keys = append([][32]byte{key}, t.keys...)
	if len(t.keys) > ticketKeyHistory {
		t.keys = t.keys[:ticketKeyHistory]
	}
	t.config().SetSessionTicketKeys(t.keys)
}

// RotateTicketKeys installs a fresh session ticket key now and then every
// period (one hour if every <= 0) until ctx is done, from a goroutine it
// starts. Short-lived keys limit what a leaked key exposes; the previous
// keys are kept so tickets issued shortly before a rotation still resume.
//
// Keys are per process: replicas behind a load balancer do not share them,
// so a client resumes only when it reaches the same replica.
func (s *Store) RotateTicketKeys(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = defaultTicketRotation
	}
	s.tickets.rotate()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.tickets.rotate()
			}
		}
	}()
}
