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
		s.Chapters[i] = ChapterSummary{Title: c.ch.Title, Status: c.status}
	}
	for i, a := range u.active {
		s.Chaos[i] = ActiveChaos{Kind: a.fault.Kind, Label: faultLabel(a.fault), Target: a.target, InjectedAt: a.at, Until: a.until}
	}
	if u.view >= 0 {
		s.Current = u.chapters[u.view].view()
	}
	return s
}

// view is the chapter as the user sees it.
func (c *chapterRun) view() *ChapterView {
	v := &ChapterView{
		Title:          c.ch.Title,
		Narration:      c.ch.Narration,
		KeyHint:        c.ch.KeyHint,
		BlocksAdvance:  c.ch.BlocksAdvance,
		CountdownUntil: c.countdownUntil,
		SteadyWait:     c.steadyWait,
		ActionRunning:  c.actionRunning,
		Status:         append([]StatusLine(nil), c.lines...),
		Expectations:   make([]ExpectationView, len(c.exps)),
		Error:          c.err,
		Skip:           c.ch.Skip,
	}
	for i, e := range c.exps {
		v.Expectations[i] = ExpectationView{
			Description: e.desc, Mode: e.exp.Mode, State: e.state, Armed: !e.armedAt.IsZero(),
			Deadline: e.deadline, MetAt: e.metAt, BrokenAt: e.brokenAt, Reason: e.reason,
		}
	}
	return v
}
