package limiter

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler is the node's HTTP API.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /check", n.handleCheck)
	mux.HandleFunc("PUT /api/limits/{key}", n.handlePutLimit)
	mux.HandleFunc("GET /api/limits/{key}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.GetLimit(r.Context(), r.PathValue("key")))
	})
	mux.HandleFunc("GET /api/nodes", func(w http.ResponseWriter, r *http.Request) {
		nodes, err := n.Nodes(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, nodes)
	})
	mux.HandleFunc("GET /api/admitted", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.Admitted())
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, n.Health())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

func (n *Node) handleCheck(w http.ResponseWriter, r *http.Request) {
	var req CheckRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Key == "" {
		writeError(w, http.StatusBadRequest, fmt.Errorf(`want a JSON body {"key": "..."}`))
		return
	}
	resp := n.Check(r.Context(), req.Key)
	status := http.StatusOK
	if !resp.Allowed {
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(resp.RetryAfter))))
	}
	writeJSON(w, status, resp)
}

func (n *Node) handlePutLimit(w http.ResponseWriter, r *http.Request) {
	var l Limit
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&l); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf(`want a JSON body {"limit": N, "window_ms": N}`))
		return
	}
	stored, err := n.SetLimit(r.Context(), r.PathValue("key"), l)
	if err != nil {
		status := http.StatusServiceUnavailable
		if l.Limit < 0 || l.WindowMS <= 0 {
			status = http.StatusBadRequest
		}
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, stored)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
