package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/process"
)

// stateFile records what one plugin process created — its member
// processes, its network fabric, its data directory — in a file named after
// that plugin process (pid and start time), in a directory every run of the
// subject shares. It is written before each thing is made, so a plugin
// process that dies at any point leaves a record of all it made. A later
// process reaps only the records of plugin processes that are gone: demos
// running at the same time never touch each other's clusters.
type stateFile struct {
	dir   string
	owner process.Identity
	mu    sync.Mutex
	rec   stateRecord
}

// stateRecord is the file's content.
type stateRecord struct {
	Owner  process.Identity  `json:"owner"`
	Dir    string            `json:"dir,omitempty"`
	Fabric *fabric           `json:"fabric,omitempty"`
	Procs  map[string]string `json:"procs,omitempty"`  // member id -> process identity or container
	Docker string            `json:"docker,omitempty"` // owner label of its containers, network, image
}

// fabric's JSON form (its fields are unexported for the rest of the package).
type fabricJSON struct {
	Owner   int  `json:"owner"`
	Net     byte `json:"net"`
	Members int  `json:"members"`
}

func (f fabric) MarshalJSON() ([]byte, error) {
	return json.Marshal(fabricJSON{f.owner, f.net, f.members})
}

func (f *fabric) UnmarshalJSON(b []byte) error {
	var j fabricJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = fabric{owner: j.Owner, net: j.Net, members: j.Members}
	return nil
}

// defaultStateDir is $XDG_STATE_HOME/demohost/etcd (XDG_STATE_HOME
// defaults to ~/.local/state).
func defaultStateDir() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "demohost", "etcd")
}

// self is this plugin process' identity.
func self() process.Identity {
	id, err := process.IdentityOf(os.Getpid())
	if err != nil {
		return process.Identity{Pid: os.Getpid()}
	}
	return id
}

func stateName(owner process.Identity) string {
	return fmt.Sprintf("plugin-%d-%d.json", owner.Pid, owner.Start)
}

func (s *stateFile) path() string { return filepath.Join(s.dir, stateName(s.owner)) }

// save applies change to the record and writes it (atomically).
func (s *stateFile) save(change func(*stateRecord)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Owner = s.owner
	change(&s.rec)
	b, err := json.Marshal(s.rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	tmp := s.path() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp, s.path()); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// clear forgets this process' record (what it made is gone).
func (s *stateFile) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec = stateRecord{}
	_ = os.Remove(s.path())
}

// reap removes what plugin processes that are gone left behind: their
// member processes, network namespaces (with their veth pairs and nftables
// tables), host links and data directories. It reports each and returns
// how many records it reaped.
func (s *stateFile) reap(progress sdk.Progress) (int, error) {
	files, err := filepath.Glob(filepath.Join(s.dir, "plugin-*.json"))
	if err != nil {
		return 0, fmt.Errorf("read state directory: %w", err)
	}
	n := 0
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var rec stateRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			progress.Warning(fmt.Sprintf("unreadable state file %s left as it is: %v", f, err))
			continue
		}
		if rec.Owner == s.owner || rec.Owner.Alive() {
			continue // this process, or a demo running right now
		}
		if err := reapRecord(rec, progress); err != nil {
			errs = append(errs, err)
			continue
		}
		_ = os.Remove(f)
		n++
	}
	return n, errors.Join(errs...)
}

// reapRecord undoes one dead plugin process' record.
func reapRecord(rec stateRecord, progress sdk.Progress) error {
	if rec.Docker != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := reapDocker(ctx, rec.Docker, progress); err != nil {
			return err
		}
	}
	var alive []process.Identity
	for name, s := range rec.Procs {
		if strings.HasPrefix(s, "container=") {
			continue // removed with the owner's scope above
		}
		id, err := process.ParseIdentity(s)
		if err != nil || !id.Alive() {
			continue
		}
		_ = id.Signal(syscall.SIGCONT)
		if err := id.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, process.ErrGone) {
			return fmt.Errorf("stop leftover etcd %s (%s): %w", name, id, err)
		}
		alive = append(alive, id)
		progress.Info(fmt.Sprintf("stopped leftover etcd %s (pid %d) of plugin process %d that is gone", name, id.Pid, rec.Owner.Pid))
	}
	// A namespace lives on while a process runs in it: wait for them to go.
	deadline := time.Now().Add(5 * time.Second)
	for _, id := range alive {
		for id.Alive() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if rec.Fabric != nil {
		f := *rec.Fabric
		if f.owner != rec.Owner.Pid {
			return fmt.Errorf("state file of plugin %d names the network of pid %d: left as it is", rec.Owner.Pid, f.owner)
		}
		had := len(ownedNamespaces(f.owner)) > 0
		if err := f.destroy(); err != nil {
			return err
		}
		if had {
			progress.Info(fmt.Sprintf("removed leftover network namespaces %s* and host link %s", f.prefix(), f.hostLink()))
		}
	}
	if rec.Dir != "" {
		if _, err := os.Stat(rec.Dir); err == nil {
			if err := os.RemoveAll(rec.Dir); err != nil {
				return fmt.Errorf("remove leftover data %s: %w", rec.Dir, err)
			}
			progress.Info("removed leftover data directory " + rec.Dir)
		}
	}
	return nil
}
