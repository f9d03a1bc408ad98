package runner

// publish sends subscribers a fresh, deep-copied Snapshot of the state.
func (u *run) publish() { u.r.publish(u.snapshot()) }

func (u *run) snapshot() Snapshot {
	s := Snapshot{
		Subject:        u.j.Subject,
		SubjectVersion: u.j.SubjectVersion,
		StartedAt:      u.j.StartedAt,
		Phase:          u.phase,
		Index:          u.view,
		Chapters:       make([]ChapterSummary, len(u.chapters)),
		Chaos:          make([]ActiveChaos, len(u.active)),
		Health:         u.health, // never modified once received
		Events:         append([]Event(nil), u.events...),
		Notice:         u.notice,
		PluginError:    u.pluginErr,
	}
	for i, c := range u.chapters {
		s.Chapters[i] = ChapterSummary{Title: c.ch.GetTitle(), Status: c.status}
	}
	for i, f := range u.active {
		e := u.j.Chaos[f.entry]
		s.Chaos[i] = ActiveChaos{Name: e.Name, Type: f.cfg.GetType(), Target: e.Target, InjectedAt: e.InjectedAt, Until: f.until}
	}
	if u.view >= 0 {
		s.Current = u.chapters[u.view].view()
	}
	return s
}

// view is the chapter as the user sees it.
func (c *chapterRun) view() *ChapterView {
	v := &ChapterView{
		Title:          c.ch.GetTitle(),
		Narration:      c.ch.GetNarration(),
		KeyHint:        c.ch.GetKeyHint(),
		BlocksAdvance:  c.ch.GetBlocksAdvance(),
		CountdownUntil: c.countdownUntil,
		ActionRunning:  c.actionRunning,
		Status:         append([]string(nil), c.lines...),
		Expectations:   make([]ExpectationView, len(c.exps)),
	}
	for i, e := range c.exps {
		v.Expectations[i] = ExpectationView{Description: e.desc, State: e.state, Deadline: e.deadline, MetAt: e.metAt}
	}
	return v
}
