package tui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
)

// mode says which view a key binding belongs to.
type mode uint8

const (
	liveMode   mode = 1 << iota // a run of a plugin
	replayMode                  // a journal played back
	bothModes  = liveMode | replayMode
)

// key is one key as the footer and the help screen name it.
type key struct {
	k    tcell.Key
	r    rune // for tcell.KeyRune
	name string
	// quiet keys work and are listed in the help, but the footer, short of
	// room, names only the others of their row (ctrl-c beside q).
	quiet bool
}

func runeKey(r rune) key { return key{k: tcell.KeyRune, r: r, name: string(r)} }

var (
	keySpace = key{k: tcell.KeyRune, r: ' ', name: "space"}
	keyEnter = key{k: tcell.KeyEnter, name: "enter"}
	keyRight = key{k: tcell.KeyRight, name: "→"}
	keyLeft  = key{k: tcell.KeyLeft, name: "←"}
	keyEsc   = key{k: tcell.KeyEscape, name: "esc"}
	keyCtrlC = key{k: tcell.KeyCtrlC, name: "ctrl-c", quiet: true}
	keyCtrlL = key{k: tcell.KeyCtrlL, name: "ctrl-l"}
	keyEqual = key{k: tcell.KeyRune, r: '=', name: "=", quiet: true} // + without shift
)

// keyAction is one row of the key table: its keys, the footer's word for
// it, the help screen's line, the views it works in, and what it does.
type keyAction struct {
	keys []key
	hint string // the footer's word; "" keeps the row out of the footer
	help string // the help screen's line
	in   mode
	do   func(*loop)
}

// keyTable is every key binding of the terminal UI, live and replay. It
// alone drives what a key does (loop.key), the footer (footerKeys) and the
// help screen (helpLines): adding a binding is adding a row.
var keyTable = []keyAction{
	{keys: []key{keySpace, keyEnter, keyRight}, hint: "next", help: "next chapter", in: liveMode, do: (*loop).next},
	{keys: []key{keyLeft}, hint: "back", help: "previous chapter (not re-run)", in: liveMode, do: (*loop).prev},
	{keys: []key{keySpace}, hint: "pause", help: "pause, resume (at the end: from the start)", in: replayMode, do: (*loop).pause},
	{keys: []key{keyRight}, hint: "next", help: "next chapter", in: replayMode, do: (*loop).seekNext},
	{keys: []key{keyLeft}, hint: "back", help: "previous chapter", in: replayMode, do: (*loop).seekPrev},
	{keys: []key{runeKey('+'), keyEqual}, hint: "faster", help: "faster (up to 8×)", in: replayMode, do: (*loop).faster},
	{keys: []key{runeKey('-')}, hint: "slower", help: "slower (down to ½×)", in: replayMode, do: (*loop).slower},
	{keys: []key{runeKey('?')}, hint: "help", help: "this help", in: bothModes, do: (*loop).toggleHelp},
	{keys: []key{keyEsc}, help: "close this help", in: bothModes, do: (*loop).closeHelp},
	{keys: []key{runeKey('q'), keyCtrlC}, hint: "quit", help: "quit (reverts chaos first)", in: liveMode, do: (*loop).quit},
	{keys: []key{runeKey('q'), keyCtrlC}, hint: "quit", help: "quit", in: replayMode, do: (*loop).leave},
	{keys: []key{runeKey('r')}, help: "restart the plugin after a crash", in: liveMode, do: (*loop).restart},
	{keys: []key{keyCtrlL}, help: "redraw the screen", in: bothModes, do: (*loop).redraw},
}

// keysFor is the rows of keyTable that work in mode m, in table order.
func keysFor(m mode) []keyAction {
	var out []keyAction
	for _, a := range keyTable {
		if a.in&m != 0 {
			out = append(out, a)
		}
	}
	return out
}

// action is the row of rows bound to ev, or nil.
func action(rows []keyAction, ev *tcell.EventKey) *keyAction {
	for i, a := range rows {
		for _, k := range a.keys {
			if ev.Key() == k.k && (k.k != tcell.KeyRune || ev.Rune() == k.r) {
				return &rows[i]
			}
		}
	}
	return nil
}

// names lists a row's keys joined by sep, the quiet ones only when all is set.
func (a keyAction) names(sep string, all bool) string {
	var ns []string
	for _, k := range a.keys {
		if all || !k.quiet {
			ns = append(ns, k.name)
		}
	}
	return strings.Join(ns, sep)
}

// footerKeys is the footer's list of keys: the chapter's own hint first
// (live only), then each row with a hint whose keys the chapter's hint
// does not already name, so no key is offered twice.
func footerKeys(rows []keyAction, chapterHint string) string {
	named := hintKeys(chapterHint)
	var parts []string
	if chapterHint != "" {
		parts = append(parts, chapterHint)
	}
	for _, a := range rows {
		if a.hint == "" || a.namedIn(named) {
			continue
		}
		parts = append(parts, a.names("/", false)+" "+a.hint)
	}
	return strings.Join(parts, " · ")
}

// namedIn reports whether one of the row's keys is in named.
func (a keyAction) namedIn(named map[string]bool) bool {
	for _, k := range a.keys {
		if named[k.name] {
			return true
		}
	}
	return false
}

// keyAliases are the other ways a chapter's hint may name a key.
var keyAliases = map[string]string{
	"spacebar": "space", "return": "enter", "right": "→", "left": "←",
	"escape": "esc", "^c": "ctrl-c", "ctrl+c": "ctrl-c", "^l": "ctrl-l", "ctrl+l": "ctrl-l",
}

// hintKeys is the set of keys a chapter's hint names: in each of its parts
// ("space: continue · q: quit"), the words before a colon, or else its
// first word, split at slashes and commas ("space/enter", "q, esc").
func hintKeys(hint string) map[string]bool {
	named := map[string]bool{}
	for _, part := range strings.Split(hint, "·") {
		part = strings.TrimSpace(part)
		head, _, found := strings.Cut(part, ":")
		if !found {
			head, _, _ = strings.Cut(part, " ")
		}
		for _, name := range strings.FieldsFunc(head, func(r rune) bool { return r == '/' || r == ',' || r == ' ' }) {
			name = strings.ToLower(name)
			if alias, ok := keyAliases[name]; ok {
				name = alias
			}
			named[name] = true
		}
	}
	return named
}

// helpLines is the help screen: one line per row, then the node states.
func helpLines(rows []keyAction) []string {
	var lines []string
	for _, a := range rows {
		lines = append(lines, pad(a.names(", ", true), 17)+" "+a.help)
	}
	return append(lines, "", "● UP  ✗ DOWN  ‖ PAUSED  ◐ DEGRADED  ? UNKNOWN")
}
