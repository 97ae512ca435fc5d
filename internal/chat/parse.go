// Package chat is Berth's chat bot, apart from any chat service: the commands people type
// (`/berth promote web to production`, `@berth status web`), parsed into Commands, and
// what the bot answers. Adapters (internal/slackbot) verify and parse a chat service's
// requests into a Request and post the Reply back; the bot acts through the service, as
// the API does, with the Berth user the chat user is linked to.
package chat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Verb is what a command asks.
type Verb string

// The verbs the bot knows.
const (
	VerbHelp     Verb = "help"
	VerbStatus   Verb = "status"
	VerbHistory  Verb = "history"
	VerbDeploy   Verb = "deploy"
	VerbPromote  Verb = "promote"
	VerbRollback Verb = "rollback"
	VerbTrain    Verb = "train"
)

// Verbs are the verbs, in the order help lists them.
var Verbs = []Verb{VerbDeploy, VerbPromote, VerbRollback, VerbStatus, VerbHistory, VerbTrain, VerbHelp}

// Command is one parsed command.
type Command struct {
	Verb Verb
	App  string
	// PR: deploy APP#PR, the preview of pull request PR.
	PR int
	// Ref: deploy APP@REF to ENV (a branch, tag or commit).
	Ref string
	// Env: the environment a deploy goes to or a rollback is in; From and To: a promotion's.
	Env, From, To string
	// Revision: rollback ... to REV (0: the previous good deploy).
	Revision int64
	// Sub: train status|delay|depart; Train the train's name ("": the only one the user
	// can see).
	Sub, Train string
	// Team, when given (--team T), else the one the app is found in.
	Team string
}

// MaxText bounds a command's text.
const MaxText = 1000

// Usage is one line per command, for help and for errors.
var Usage = []string{
	"deploy APP#PR                      deploy the preview of pull request PR of APP",
	"deploy APP@REF to ENV              deploy APP at a branch, tag or commit to ENV",
	"promote APP to ENV [from ENV]      deploy to ENV what runs in the environment before it",
	"rollback APP in ENV [to REV]       roll APP in ENV back to revision REV (default: the last good one)",
	"status APP                         what runs where, and whether it is healthy",
	"history APP [in ENV]               the last deploys",
	"train [status|delay|depart] [NAME] the deployment train: what is on it, delay it, send it off",
	"help                               this list",
}

// ParseError is a command the bot does not understand; Suggestion is the verb it probably
// meant ("" when none is close).
type ParseError struct {
	Text, Reason, Suggestion string
}

func (e *ParseError) Error() string {
	msg := e.Reason
	if e.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean `%s`?)", e.Suggestion)
	}
	return msg
}

// Parse parses a command's text: the words after `/berth` or `@berth`.
func Parse(text string) (Command, error) {
	if len(text) > MaxText || !utf8.ValidString(text) {
		return Command{}, &ParseError{Text: "", Reason: fmt.Sprintf("a command is at most %d bytes of text", MaxText)}
	}
	words := strings.FieldsFunc(text, func(r rune) bool { return unicode.IsSpace(r) })
	var team string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if name, ok := strings.CutPrefix(w, "--team="); ok {
			team, words = name, append(words[:i:i], words[i+1:]...)
			i--
		} else if w == "--team" {
			if i+1 >= len(words) {
				return Command{}, &ParseError{Text: text, Reason: "--team needs a team's name"}
			}
			team, words = words[i+1], append(words[:i:i], words[i+2:]...)
			i--
		}
	}
	if len(words) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	verb := Verb(strings.ToLower(words[0]))
	args := words[1:]
	c := Command{Verb: verb, Team: team}
	bad := func(format string, a ...any) (Command, error) {
		return Command{}, &ParseError{Text: text, Reason: fmt.Sprintf(format, a...) + "; usage: " + usageOf(verb)}
	}
	switch verb {
	case VerbHelp:
		return Command{Verb: VerbHelp}, nil
	case VerbStatus:
		if len(args) != 1 {
			return bad("status names one app")
		}
		c.App = args[0]
	case VerbHistory:
		switch {
		case len(args) == 1:
		case len(args) == 3 && strings.EqualFold(args[1], "in"):
			c.Env = args[2]
		default:
			return bad("history names an app, and maybe an environment")
		}
		c.App = args[0]
	case VerbDeploy:
		switch {
		case len(args) == 1 && strings.Contains(args[0], "#"):
			app, pr, _ := strings.Cut(args[0], "#")
			n, err := strconv.Atoi(pr)
			if err != nil || n <= 0 {
				return bad("%q is no pull request number", pr)
			}
			c.App, c.PR = app, n
		case len(args) == 3 && strings.Contains(args[0], "@") && strings.EqualFold(args[1], "to"):
			app, ref, _ := strings.Cut(args[0], "@")
			if ref == "" {
				return bad("name a branch, tag or commit after @")
			}
			c.App, c.Ref, c.Env = app, ref, args[2]
		default:
			return bad("deploy takes APP#PR or APP@REF to ENV")
		}
	case VerbPromote:
		switch {
		case len(args) == 3 && strings.EqualFold(args[1], "to"):
			c.App, c.To = args[0], args[2]
		case len(args) == 5 && strings.EqualFold(args[1], "to") && strings.EqualFold(args[3], "from"):
			c.App, c.To, c.From = args[0], args[2], args[4]
		default:
			return bad("promote takes APP to ENV")
		}
	case VerbRollback:
		switch {
		case len(args) == 3 && strings.EqualFold(args[1], "in"):
		case len(args) == 5 && strings.EqualFold(args[1], "in") && strings.EqualFold(args[3], "to"):
			n, err := strconv.ParseInt(args[4], 10, 64)
			if err != nil || n <= 0 {
				return bad("%q is no revision number", args[4])
			}
			c.Revision = n
		default:
			return bad("rollback takes APP in ENV [to REV]")
		}
		c.App, c.Env = args[0], args[2]
	case VerbTrain:
		switch {
		case len(args) == 0:
			c.Sub = "status"
		case len(args) <= 2 && (args[0] == "status" || args[0] == "delay" || args[0] == "depart"):
			c.Sub = args[0]
			if len(args) == 2 {
				c.Train = args[1]
			}
		default:
			return bad("train takes status, delay or depart, and the train's name when you can see several")
		}
	default:
		return Command{}, &ParseError{Text: text, Reason: fmt.Sprintf("Berth does not know `%s`", clip(words[0])), Suggestion: suggest(string(verb))}
	}
	return c, nil
}

// usageOf is the usage lines of verb, joined.
func usageOf(v Verb) string {
	var out []string
	for _, u := range Usage {
		if strings.HasPrefix(u, string(v)+" ") {
			out = append(out, "`"+strings.TrimSpace(u[:35])+"`")
		}
	}
	return strings.Join(out, " or ")
}

// suggest returns the verb closest to word, when one is close (an edit distance of at most
// two, or one of the word's length over three).
func suggest(word string) string {
	best, bestD := "", 3
	for _, v := range Verbs {
		if d := distance(word, string(v)); d < bestD && d <= max(1, len(word)/3) {
			best, bestD = string(v), d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, by bytes (verbs are ASCII).
func distance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// clip shortens a word quoted back to the user.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
