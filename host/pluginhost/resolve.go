// Package pluginhost finds a subject plugin (--plugin PATH), starts it over
// hashicorp/go-plugin gRPC and hands the host an *sdk.Client. It also owns
// the host's log file, where go-plugin and the plugin's stderr write.
package pluginhost

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// PathEnv is the colon-separated list of directories where a bare plugin
// name is looked up before ./plugins.
const PathEnv = "DEMOHOST_PLUGIN_PATH"

// SearchPath returns the directories a bare plugin name is looked up in:
// those of $DEMOHOST_PLUGIN_PATH (given as env), then ./plugins.
func SearchPath(env string) []string {
	var dirs []string
	for _, d := range filepath.SplitList(env) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return append(dirs, "plugins")
}

// Resolve turns the --plugin argument into the absolute path of the plugin
// executable. arg is an executable, a directory holding exactly one
// executable, or a bare name (no slash) looked up in searchPath as NAME or
// demohost-NAME, each a file or a directory. Errors say what to do.
func Resolve(arg string, searchPath []string) (string, error) {
	if arg == "" {
		return "", errors.New("no plugin given: pass --plugin PATH (a plugin executable, a directory holding one, or a name on $" + PathEnv + ")")
	}
	if strings.ContainsRune(arg, filepath.Separator) || exists(arg) {
		return resolvePath(arg)
	}
	for _, dir := range searchPath {
		for _, name := range []string{arg, "demohost-" + arg} {
			if p := filepath.Join(dir, name); exists(p) {
				return resolvePath(p)
			}
		}
	}
	return "", fmt.Errorf("plugin %q not found in $%s or ./plugins: pass a path, e.g. --plugin ./plugins/example after `make build`", arg, PathEnv)
}

func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("plugin %s: %w", p, err)
	}
	info, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("plugin %s does not exist: build it with `make build` or pass the path of a plugin executable", p)
	}
	if err != nil {
		return "", fmt.Errorf("plugin %s: %w", p, err)
	}
	if info.IsDir() {
		return pluginInDir(p, abs)
	}
	if !info.Mode().IsRegular() || !isExecutable(info) {
		return "", fmt.Errorf("plugin %s is not executable: run `chmod +x %s`, or rebuild it with `make build`", p, p)
	}
	return abs, nil
}

// pluginInDir finds the one executable in dir. With several, those named
// demohost-* win; still more than one is an error naming them.
func pluginInDir(shown, dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("plugin directory %s: %w", shown, err)
	}
	var all, prefixed []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !isExecutable(info) {
			continue
		}
		all = append(all, e.Name())
		if strings.HasPrefix(e.Name(), "demohost-") {
			prefixed = append(prefixed, e.Name())
		}
	}
	candidates := all
	if len(prefixed) > 0 {
		candidates = prefixed
	}
	switch len(candidates) {
	case 0:
		return "", fmt.Errorf("no plugin executable in directory %s: run `make build` (plugins build to plugins/NAME/demohost-NAME) or pass the executable itself", shown)
	case 1:
		return filepath.Join(dir, candidates[0]), nil
	default:
		sort.Strings(candidates)
		return "", fmt.Errorf("directory %s holds %d executables (%s): pass the one you mean, e.g. --plugin %s", shown, len(candidates), strings.Join(candidates, ", "), filepath.Join(shown, candidates[0]))
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isExecutable(info fs.FileInfo) bool { return info.Mode().Perm()&0o111 != 0 }
