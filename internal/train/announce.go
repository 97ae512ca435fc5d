package train

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// maxShownCommits bounds the commits an announcement lists per app.
const maxShownCommits = 10

// pending returns t's cars: the apps (its own, or every app of the team by name) whose
// last successful deploy in the source is not what runs in the target, with the commits
// between them when the app is connected to a repository.
func (s *Scheduler) pending(ctx context.Context, t berth.Train) ([]berth.TrainCar, error) {
	names := t.Apps
	if len(names) == 0 {
		apps, err := s.st.Apps(ctx, t.Team)
		if err != nil {
			return nil, err
		}
		for _, a := range apps {
			names = append(names, a.Name)
		}
	}
	var cars []berth.TrainCar
	for _, name := range names {
		app, err := s.st.App(ctx, t.Team, name)
		if errors.Is(err, berth.ErrNotFound) {
			continue // deleted since the train was set up
		}
		if err != nil {
			return nil, err
		}
		src, err := s.st.LastSucceeded(ctx, app.ID, t.From, 0)
		if errors.Is(err, berth.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		car := berth.TrainCar{App: name, Source: src.ID, Revision: src.Revision, State: berth.CarWaiting}
		tgt, err := s.st.LastSucceeded(ctx, app.ID, t.To, 0)
		switch {
		case errors.Is(err, berth.ErrNotFound):
		case err != nil:
			return nil, err
		case tgt.PromotedFrom == src.ID, tgt.ID == src.ID:
			continue // runs there already
		case tgt.Kind == berth.KindPromotion && tgt.Revision == src.Revision && sameImages(tgt.Images, src.Images):
			continue
		default:
			car.Target = tgt.Revision
		}
		s.commits(ctx, t, &car)
		cars = append(cars, car)
	}
	return cars, nil
}

func sameImages(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// commits fills car's commits from its app's forge: what the source's revision's commit
// has that the target's has not. What it cannot learn, it notes.
func (s *Scheduler) commits(ctx context.Context, t berth.Train, car *berth.TrainCar) {
	head, err := s.st.Revision(ctx, t.Team, car.App, car.Revision)
	if err != nil || head.Source == nil {
		car.Note = fmt.Sprintf("revision %d (not from a repository)", car.Revision)
		return
	}
	if car.Target == 0 {
		car.Note = fmt.Sprintf("its first deploy to %s (revision %d, commit %s)", t.To, car.Revision, short(head.Source.SHA))
		return
	}
	base, err := s.st.Revision(ctx, t.Team, car.App, car.Target)
	if err != nil || base.Source == nil || base.Source.Repo != head.Source.Repo {
		car.Note = fmt.Sprintf("revision %d to %d (%s runs no commit of the same repository)", car.Target, car.Revision, t.To)
		return
	}
	if base.Source.SHA == head.Source.SHA {
		car.Note = fmt.Sprintf("revision %d to %d: no new commits (the manifest or its settings changed)", car.Target, car.Revision)
		return
	}
	repo, err := s.st.AppRepo(ctx, t.Team, car.App)
	if err != nil {
		car.Note = "commits unknown: the app is no longer connected to its repository"
		return
	}
	sec, err := s.st.RepoSecrets(ctx, t.Team, car.App)
	if err != nil {
		car.Note = "commits unknown: " + err.Error()
		return
	}
	f, err := s.forges(repo, sec.Token)
	if err != nil {
		car.Note = "commits unknown: " + err.Error()
		return
	}
	cmp, err := f.Compare(ctx, head.Source.Repo, base.Source.SHA, head.Source.SHA)
	if err != nil {
		s.log.Warn("train: compare commits", "train", trainName(t), "app", car.App, "err", err)
		car.Note = "commits unknown: the forge did not answer"
		return
	}
	car.Commits, car.Total = cmp.Commits, cmp.Total
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// channel is where t announces itself: its own channel, or its team's.
func (s *Scheduler) channel(ctx context.Context, t berth.Train) string {
	if t.Channel != "" {
		return t.Channel
	}
	team, err := s.st.Team(ctx, t.Team)
	if err != nil {
		return ""
	}
	return team.ChatChannel
}

// postAnnouncement posts run's board (the announcement, edited as the train goes) and
// records where it is, on the run too.
func (s *Scheduler) postAnnouncement(ctx context.Context, t berth.Train, run *berth.TrainRun, now time.Time) {
	ch := s.channel(ctx, t)
	if s.chat == nil || ch == "" {
		return
	}
	text := s.boardText(ctx, t, *run, now)
	id, err := s.chat.Post(ctx, ch, text)
	if err != nil {
		s.log.Warn("train: post announcement", "train", trainName(t), "err", err)
		return
	}
	if err := s.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetTrainRunMessage(ctx, run.ID, ch, id) }); err != nil {
		s.log.Warn("train: record announcement", "train", trainName(t), "err", err)
		return
	}
	run.Channel, run.Message = ch, id
	s.mu.Lock()
	s.board[run.ID] = text
	s.mu.Unlock()
}

// refreshBoard edits run's announcement when what it shows changed.
func (s *Scheduler) refreshBoard(ctx context.Context, t berth.Train, run berth.TrainRun, now time.Time) {
	if s.chat == nil || run.Message == "" {
		return
	}
	text := s.boardText(ctx, t, run, now)
	s.mu.Lock()
	same := s.board[run.ID] == text
	s.mu.Unlock()
	if same {
		return
	}
	if err := s.chat.Update(ctx, run.Channel, run.Message, text); err != nil {
		s.log.Warn("train: update announcement", "train", trainName(t), "err", err)
		return
	}
	s.mu.Lock()
	s.board[run.ID] = text
	if run.State.Final() {
		delete(s.board, run.ID)
		delete(s.pinged, run.ID)
	}
	s.mu.Unlock()
}

// say posts text in t's channel, a message of its own (departure, stop, arrival).
func (s *Scheduler) say(ctx context.Context, t berth.Train, run berth.TrainRun, text string) {
	ch := run.Channel
	if ch == "" {
		ch = s.channel(ctx, t)
	}
	if s.chat == nil || ch == "" {
		return
	}
	if _, err := s.chat.Post(ctx, ch, text); err != nil {
		s.log.Warn("train: post", "train", trainName(t), "err", err)
	}
}

// announceDelays tells each delayed train's channel who delayed it, when it leaves now
// and how many delays are left today.
func (s *Scheduler) announceDelays(ctx context.Context) error {
	ds, err := s.st.UnannouncedTrainDelays(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		t, err := s.st.TrainByID(ctx, d.TrainID)
		if err != nil {
			return err
		}
		run, err := s.st.TrainRun(ctx, d.RunID)
		if err != nil {
			return err
		}
		onDay, ofRun, err := s.st.TrainDelaysUpTo(ctx, t.ID, run.ID, d.Day, d.ID)
		if err != nil {
			return err
		}
		left := max(0, t.MaxDelays-onDay)
		departs := run.Slot.Add(time.Duration(ofRun) * d.Delay)
		if run.DepartedBy != "" || ofRun == run.Delays {
			departs = run.Departs
		}
		s.say(ctx, t, run, fmt.Sprintf(":hourglass: %s delayed the %s train by %s: it now leaves at %s. %s",
			d.By, trainName(t), d.Delay, clock(t, departs), plural(left, "delay", "delays")+" left today."))
		if err := s.st.Tx(ctx, func(tx *store.Tx) error { return tx.TrainDelayAnnounced(ctx, d.ID) }); err != nil {
			return err
		}
		s.refreshBoard(ctx, t, run, s.o.Now())
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// clock is at in t's time zone, as a departure board shows it.
func clock(t berth.Train, at time.Time) string {
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return at.In(loc).Format("15:04 MST")
}

// boardText is run's announcement: where and when it goes, who is on it, and each app's
// commits or state.
func (s *Scheduler) boardText(ctx context.Context, t berth.Train, run berth.TrainRun, now time.Time) string {
	var b strings.Builder
	switch run.State {
	case berth.TrainScheduled, berth.TrainAnnounced:
		fmt.Fprintf(&b, ":steam_locomotive: *The deployment train %s is ready to depart!* %s → %s at %s", trainName(t), t.From, t.To, clock(t, run.Departs))
		if m := run.Departs.Sub(now).Round(time.Minute); m > 0 {
			fmt.Fprintf(&b, " (in %s)", humanMinutes(m))
		}
		b.WriteString(".\n")
		if pings := s.pings(ctx, run); len(pings) > 0 {
			fmt.Fprintf(&b, "%s your work is on the train.\n", strings.Join(pings, " "))
		}
	case berth.TrainDeparting:
		fmt.Fprintf(&b, ":steam_locomotive: *The deployment train %s is on its way* %s → %s.\n", trainName(t), t.From, t.To)
	case berth.TrainDeparted:
		fmt.Fprintf(&b, ":white_check_mark: *The deployment train %s arrived* in %s.\n", trainName(t), t.To)
	case berth.TrainStopped:
		fmt.Fprintf(&b, ":rotating_light: *The deployment train %s stopped*: %s\n", trainName(t), run.Reason)
	case berth.TrainHeld:
		fmt.Fprintf(&b, ":octagonal_sign: *The deployment train %s stayed in the station*: %s\n", trainName(t), run.Reason)
	default:
		fmt.Fprintf(&b, "The deployment train %s: %s\n", trainName(t), run.State)
	}
	for _, c := range run.Cars {
		b.WriteString(carLine(c))
	}
	if run.State == berth.TrainAnnounced || run.State == berth.TrainScheduled {
		fmt.Fprintf(&b, "Delay it by %s: `/berth train delay %s` · leave now: `/berth train depart %s`", t.Delay, t.Name, t.Name)
	}
	out := strings.TrimRight(b.String(), "\n")
	if len(out) > maxBoard {
		out = out[:maxBoard]
		for !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
		out += "…"
	}
	return out
}

// maxBoard bounds an announcement's text (Slack takes 3000 characters in a block).
const maxBoard = 2900

func humanMinutes(d time.Duration) string {
	if d < time.Hour {
		return plural(int(d/time.Minute), "minute", "minutes")
	}
	return d.String()
}

// carLine is one app's part of the board.
func carLine(c berth.TrainCar) string {
	var b strings.Builder
	icon := map[berth.TrainCarState]string{berth.CarWaiting: "•", berth.CarDeploying: ":arrows_counterclockwise:",
		berth.CarSucceeded: ":white_check_mark:", berth.CarFailed: ":x:", berth.CarSkipped: ":double_vertical_bar:"}[c.State]
	fmt.Fprintf(&b, "%s *Changes for %s*: ", icon, c.App)
	switch {
	case c.Total > 0:
		b.WriteString(plural(c.Total, "commit", "commits"))
	case c.Note != "":
		b.WriteString(c.Note)
	default:
		fmt.Fprintf(&b, "revision %d", c.Revision)
	}
	if c.Deploy != 0 {
		fmt.Fprintf(&b, " — deploy %d %s", c.Deploy, c.State)
	} else if c.State == berth.CarSkipped {
		b.WriteString(" — " + c.Reason)
	}
	b.WriteString("\n")
	shown := c.Commits
	if len(shown) > maxShownCommits {
		shown = shown[len(shown)-maxShownCommits:]
	}
	for _, cm := range shown {
		who := cm.AuthorName
		if who == "" {
			who = cm.AuthorLogin
		}
		fmt.Fprintf(&b, "    `%s` %s — %s\n", short(cm.SHA), escape(cm.Message), escape(who))
	}
	if hidden := c.Total - len(shown); hidden > 0 {
		fmt.Fprintf(&b, "    … and %s more\n", plural(hidden, "commit", "commits"))
	}
	return b.String()
}

// escape keeps a commit's words from being read as the chat's markup (mentions, links).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// pings are the chat mentions of the authors of the cars' commits: the chat user linked
// to the Berth user of the author's email, else the chat's own user of that email.
// Authors the chat does not know are not pinged.
func (s *Scheduler) pings(ctx context.Context, run berth.TrainRun) []string {
	if s.chat == nil {
		return nil
	}
	s.mu.Lock()
	cached, ok := s.pinged[run.ID]
	s.mu.Unlock()
	if ok {
		return cached
	}
	var emails []string
	for _, c := range run.Cars {
		for _, cm := range c.Commits {
			e := strings.ToLower(strings.TrimSpace(cm.AuthorEmail))
			if e != "" && !slices.Contains(emails, e) && len(emails) < 50 {
				emails = append(emails, e)
			}
		}
	}
	var out []string
	for _, e := range emails {
		user, err := s.st.ChatUserByEmail(ctx, s.chat.Provider(), e)
		if err != nil {
			if user, err = s.chat.UserByEmail(ctx, e); err != nil {
				continue
			}
		}
		if m := s.chat.Mention(user); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	s.mu.Lock()
	s.pinged[run.ID] = out
	s.mu.Unlock()
	return out
}
