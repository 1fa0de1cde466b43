package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// janusAPI speaks Janus's HTTP API: requests are POSTs to /janus,
// /janus/<session> and /janus/<session>/<handle>; asynchronous events come by
// long poll (GET /janus/<session>) and are routed to each handle's channel.
type janusAPI struct {
	base    string // http://127.0.0.1:<port>/janus
	client  *http.Client
	session uint64
	next    atomic.Uint64

	mu       sync.Mutex
	handles  map[uint64]chan janusMessage
	cancel   context.CancelFunc
	polled   chan struct{}
	stopping atomic.Bool // no new long poll after the one in flight
}

// janusMessage is any reply or event; only the fields the test reads.
type janusMessage struct {
	Janus       string          `json:"janus"`
	Transaction string          `json:"transaction"`
	Sender      uint64          `json:"sender"`
	Data        json.RawMessage `json:"data"`
	PluginData  struct {
		Plugin string          `json:"plugin"`
		Data   json.RawMessage `json:"data"`
	} `json:"plugindata"`
	JSEP  *jsep `json:"jsep"`
	Error *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
}

type jsep struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
	// false: every candidate is in the SDP (the client does not trickle).
	Trickle *bool `json:"trickle,omitempty"`
}

func newJanusAPI(base string) *janusAPI {
	return &janusAPI{base: base, client: &http.Client{Timeout: 40 * time.Second}, handles: map[uint64]chan janusMessage{}}
}

func (a *janusAPI) post(path string, body map[string]any) (janusMessage, error) {
	body["transaction"] = strconv.FormatUint(a.next.Add(1), 10)
	raw, err := json.Marshal(body)
	if err != nil {
		return janusMessage{}, err
	}
	resp, err := a.client.Post(a.base+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		return janusMessage{}, err
	}
	defer resp.Body.Close()
	var m janusMessage
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return janusMessage{}, fmt.Errorf("POST %s: %w", path, err)
	}
	if m.Janus == "error" {
		return m, fmt.Errorf("POST %s %v: Janus error %d: %s", path, body["janus"], m.Error.Code, m.Error.Reason)
	}
	return m, nil
}

// info fetches GET /janus/info: the server's version and loaded plugins.
func (a *janusAPI) info() (map[string]json.RawMessage, error) {
	resp, err := a.client.Get(a.base + "/info")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var info map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, err
	}
	return info, nil
}

func idOf(m janusMessage) (uint64, error) {
	var d struct {
		ID uint64 `json:"id"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil || d.ID == 0 {
		return 0, fmt.Errorf("no id in %q reply", m.Janus)
	}
	return d.ID, nil
}

// createSession creates the Janus session and starts its long poll.
func (a *janusAPI) createSession() error {
	m, err := a.post("", map[string]any{"janus": "create"})
	if err != nil {
		return err
	}
	if a.session, err = idOf(m); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.polled = cancel, make(chan struct{})
	go a.poll(ctx)
	return nil
}

// attach attaches a handle to the plugin; its events arrive on the channel.
func (a *janusAPI) attach(plugin string) (uint64, <-chan janusMessage, error) {
	m, err := a.post(fmt.Sprintf("/%d", a.session), map[string]any{"janus": "attach", "plugin": plugin})
	if err != nil {
		return 0, nil, err
	}
	id, err := idOf(m)
	if err != nil {
		return 0, nil, err
	}
	events := make(chan janusMessage, 64)
	a.mu.Lock()
	a.handles[id] = events
	a.mu.Unlock()
	return id, events, nil
}

// message sends a plugin request: the reply is "success" with plugindata
// (synchronous) or "ack" (the answer follows as an event).
func (a *janusAPI) message(handle uint64, body map[string]any, offer *jsep) (janusMessage, error) {
	req := map[string]any{"janus": "message", "body": body}
	if offer != nil {
		req["jsep"] = offer
	}
	return a.post(fmt.Sprintf("/%d/%d", a.session, handle), req)
}

func (a *janusAPI) detach(handle uint64) error {
	_, err := a.post(fmt.Sprintf("/%d/%d", a.session, handle), map[string]any{"janus": "detach"})
	return err
}

// end detaches the session's last handle and destroys the session, leaving
// no request of the client open in Janus: Janus 1.1's HTTP transport can
// crash at shutdown on a long poll still suspended there (it does not answer
// the long poll of a destroyed session; it resumes it while stopping). So the
// poll stops re-polling first, and the handle's "detached" event answers the
// long poll in flight; the kept-alive connections close last.
func (a *janusAPI) end(last uint64) error {
	a.stopping.Store(true)
	err := a.detach(last)
	select {
	case <-a.polled:
	case <-time.After(40 * time.Second): // Janus answers every long poll within 30 s
		a.cancel()
		<-a.polled
	}
	if _, e := a.post(fmt.Sprintf("/%d", a.session), map[string]any{"janus": "destroy"}); err == nil {
		err = e
	}
	a.client.CloseIdleConnections()
	return err
}

// abort stops the long poll at once, for the error paths: the test fails
// anyway, and Janus is stopped after it.
func (a *janusAPI) abort() {
	if a.cancel != nil {
		a.cancel()
		<-a.polled
	}
}

func (a *janusAPI) poll(ctx context.Context) {
	defer close(a.polled)
	url := fmt.Sprintf("%s/%d?maxev=10", a.base, a.session)
	for ctx.Err() == nil && !a.stopping.Load() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return
		}
		resp, err := a.client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var events []janusMessage
		if err := json.Unmarshal(raw, &events); err != nil {
			var one janusMessage
			if json.Unmarshal(raw, &one) == nil {
				events = []janusMessage{one}
			}
		}
		for _, e := range events {
			a.mu.Lock()
			ch := a.handles[e.Sender]
			a.mu.Unlock()
			if ch != nil {
				select {
				case ch <- e:
				default: // a handle nobody listens to any more
				}
			}
		}
	}
}

// await returns the handle's next event of the given kind ("event",
// "webrtcup", ...), skipping others, or fails after the timeout.
func await(events <-chan janusMessage, kind string, timeout time.Duration) (janusMessage, error) {
	deadline := time.After(timeout)
	for {
		select {
		case e := <-events:
			if e.Janus == kind {
				return e, nil
			}
		case <-deadline:
			return janusMessage{}, fmt.Errorf("no %q event within %v", kind, timeout)
		}
	}
}
