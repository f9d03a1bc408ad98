package pluginhost

import "strings"

// passedEnv are the variables of the host that reach a plugin (besides
// what go-plugin sets for the handshake, and what the user names with
// --plugin-env): where programs are, who and where the user is, the locale
// and time zone, the XDG directories, the Docker client's settings and the
// proxies. Nothing else of the host's environment (tokens, credentials)
// reaches a plugin. README.md ("Safety") lists them.
var passedEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ", "LANG", "LANGUAGE",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
}

// passedPrefixes are the families of variables that reach a plugin.
var passedPrefixes = []string{"LC_", "XDG_", "DOCKER_"}

// PluginEnv is the environment a plugin starts with: the variables of
// environ (os.Environ()) that passedEnv and passedPrefixes name, and those
// the user named (--plugin-env NAME), in environ's order.
func PluginEnv(environ []string, named []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && passes(name, named) {
			out = append(out, kv)
		}
	}
	return out
}

func passes(name string, named []string) bool {
	for _, n := range passedEnv {
		if n == name {
			return true
		}
	}
	for _, p := range passedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, n := range named {
		if n == name {
			return true
		}
	}
	return false
}
