package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
)

// collector receives what Janus's sample event handler posts (a JSON array
// of events, or one) and adds up the plugin's report events like the log's
// report lines.
type collector struct {
	srv *http.Server
	url string

	mu   sync.Mutex
	sums map[string]*logSums
	bad  []string
}

// pluginEvent is a Janus event handler event of type 64 (plugin).
type pluginEvent struct {
	Type  int `json:"type"`
	Event struct {
		Plugin string `json:"plugin"`
		Data   struct {
			Event       string `json:"event"`
			Participant string `json:"participant"`
			Track       string `json:"track"`
			Country     string `json:"country"`
			Direction   string `json:"direction"`
			Bytes       uint64 `json:"bytes"`
			Messages    uint64 `json:"messages"`
			StartNS     uint64 `json:"start_ns"`
			EndNS       uint64 `json:"end_ns"`
			Flags       int    `json:"flags"`
		} `json:"data"`
	} `json:"event"`
}

func startCollector() (*collector, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &collector{url: "http://" + l.Addr().String() + "/events", sums: map[string]*logSums{}}
	c.srv = &http.Server{Handler: http.HandlerFunc(c.serve)}
	go c.srv.Serve(l)
	return c, nil
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var events []pluginEvent
	if json.Unmarshal(raw, &events) != nil {
		var one pluginEvent
		if err := json.Unmarshal(raw, &one); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events = []pluginEvent{one}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		d := e.Event.Data
		if e.Type != 64 || e.Event.Plugin != pluginPackage || d.Event != "report" {
			continue
		}
		if d.Participant != participant || d.Country != country || d.StartNS >= d.EndNS {
			c.bad = append(c.bad, "an event report with a wrong key or window: "+string(raw))
			continue
		}
		key := d.Track + " " + d.Direction
		s := c.sums[key]
		if s == nil {
			s = &logSums{}
			c.sums[key] = s
		}
		s.bytes += d.Bytes
		s.messages += d.Messages
		s.reports++
		if d.Flags&1 != 0 { // TRACKSTATS_FLAG_FINAL
			s.final++
		}
	}
}

// snapshot copies the sums so far and the malformed reports seen.
func (c *collector) snapshot() (map[string]*logSums, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*logSums{}
	for k, v := range c.sums {
		s := *v
		out[k] = &s
	}
	return out, append([]string(nil), c.bad...)
}
