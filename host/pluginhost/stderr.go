package pluginhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// pluginStderr reads what the plugin writes to stderr, line by line, into
// the log (docs/PROTOCOL.md, "Logging"): a JSON object with a string
// "@message" is logged at its "@level" with its other fields, any other
// line as it is, at the level its prefix says. It also keeps the end of
// stderr, so a plugin that dies during the handshake can be quoted.
//
// go-plugin's own parser is bypassed (see goPluginLogger) because it
// panics — taking the host down, faults and all — on a JSON line whose
// "@message" or "@level" is not a string.
type pluginStderr struct {
	log hclog.Logger

	mu      sync.Mutex
	partial []byte // the line being written
	inPanic bool   // a panic or traceback started: plain lines are errors
	tail    []byte
}

const (
	tailBytes    = 8 << 10
	maxLineBytes = 64 << 10 // longer lines are logged in pieces
)

func newPluginStderr(log hclog.Logger) *pluginStderr { return &pluginStderr{log: log} }

// Write takes stderr as go-plugin passes it on (a line, then its newline).
func (s *pluginStderr) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail = append(s.tail, p...)
	if over := len(s.tail) - tailBytes; over > 0 {
		s.tail = append(s.tail[:0], s.tail[over:]...)
	}
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			if len(s.partial) >= maxLineBytes {
				s.logLine(string(s.partial))
				s.partial = s.partial[:0]
			}
			return len(p), nil
		}
		s.logLine(string(bytes.TrimSuffix(s.partial[:i], []byte("\r"))))
		s.partial = append(s.partial[:0], s.partial[i+1:]...)
	}
}

// logLine logs one line of stderr.
func (s *pluginStderr) logLine(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	if msg, level, args, ok := jsonLine(line); ok {
		s.log.Log(level, msg, args...)
		return
	}
	level := hclog.Debug
	for prefix, l := range prefixLevels {
		if strings.HasPrefix(line, prefix) {
			level = l
		}
	}
	if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") || strings.HasPrefix(line, "Traceback (most recent call last):") {
		s.inPanic = true
	}
	if s.inPanic && level == hclog.Debug {
		level = hclog.Error
	}
	s.log.Log(level, line)
}

// prefixLevels are the prefixes that give a plain line its level.
var prefixLevels = map[string]hclog.Level{
	"[TRACE]": hclog.Trace, "[DEBUG]": hclog.Debug, "[INFO]": hclog.Info,
	"[WARN]": hclog.Warn, "[WARNING]": hclog.Warn, "[ERROR]": hclog.Error,
}

// jsonLine reads a structured log line: a JSON object whose "@message" is
// a string. Its "@level" (trace, debug, info, warn or warning, error; any
// case; info when absent or unknown) is the level, "@timestamp" is dropped
// (the log has its own) and every other field becomes a key=value pair.
func jsonLine(line string) (msg string, level hclog.Level, args []interface{}, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(line), "{") {
		return "", 0, nil, false
	}
	var fields map[string]interface{}
	if json.Unmarshal([]byte(line), &fields) != nil {
		return "", 0, nil, false
	}
	msg, ok = fields["@message"].(string)
	if !ok {
		return "", 0, nil, false
	}
	level = hclog.Info
	if l, _ := fields["@level"].(string); l != "" {
		switch strings.ToLower(strings.TrimSpace(l)) {
		case "trace":
			level = hclog.Trace
		case "debug":
			level = hclog.Debug
		case "warn", "warning":
			level = hclog.Warn
		case "error", "critical", "fatal":
			level = hclog.Error
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != "@message" && k != "@level" && k != "@timestamp" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fields[k]
		if _, isString := v.(string); !isString {
			b, _ := json.Marshal(v)
			v = string(b)
		}
		args = append(args, k, v)
	}
	return msg, level, args, true
}

func (s *pluginStderr) contains(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.tail, []byte(sub))
}

// lastLine is the last non-empty line written, "" if none.
func (s *pluginStderr) lastLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(s.tail)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// lastWords is `its last line on stderr: "..."`, or "" when the plugin
// wrote nothing. Quoting escapes whatever control characters it printed.
func (s *pluginStderr) lastWords() string {
	if l := s.lastLine(); l != "" {
		return fmt.Sprintf("its last line on stderr: %q", truncate(l, 120))
	}
	return ""
}

// goPluginLogger is the logger go-plugin gets: the host's, except that the
// one go-plugin would log the plugin's stderr to is switched off, which
// makes go-plugin skip parsing it (pluginStderr does that instead).
type goPluginLogger struct {
	hclog.Logger
	stderrName string
}

var offLogger = hclog.New(&hclog.LoggerOptions{Level: hclog.Off})

func (l goPluginLogger) Named(name string) hclog.Logger {
	if name == l.stderrName {
		return offLogger
	}
	return l.Logger.Named(name)
}
