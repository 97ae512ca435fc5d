package chat

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Command
	}{
		{"", Command{Verb: VerbHelp}},
		{"help", Command{Verb: VerbHelp}},
		{"deploy web#3071", Command{Verb: VerbDeploy, App: "web", PR: 3071}},
		{"Deploy web@v1.2.0 to staging", Command{Verb: VerbDeploy, App: "web", Ref: "v1.2.0", Env: "staging"}},
		{"promote web to production", Command{Verb: VerbPromote, App: "web", To: "production"}},
		{"promote web to production from staging", Command{Verb: VerbPromote, App: "web", To: "production", From: "staging"}},
		{"rollback web in production", Command{Verb: VerbRollback, App: "web", Env: "production"}},
		{"rollback web in production to 41", Command{Verb: VerbRollback, App: "web", Env: "production", Revision: 41}},
		{"status web --team shop", Command{Verb: VerbStatus, App: "web", Team: "shop"}},
		{"history --team=shop web in staging", Command{Verb: VerbHistory, App: "web", Env: "staging", Team: "shop"}},
		{"train", Command{Verb: VerbTrain, Sub: "status"}},
		{"train  delay", Command{Verb: VerbTrain, Sub: "delay"}},
		{"train depart daily", Command{Verb: VerbTrain, Sub: "depart", Train: "daily"}},
	} {
		got, err := Parse(tc.text)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.text, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tc.text, diff)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for text, want := range map[string]string{
		"deploi web#1":              "did you mean `deploy`",
		"promot web to production":  "did you mean `promote`",
		"stauts web":                "did you mean `status`",
		"launch the rockets":        "Berth does not know `launch`",
		"deploy web#x":              `"x" is no pull request number`,
		"deploy web":                "usage: `deploy APP#PR` or `deploy APP@REF to ENV`",
		"rollback web in prod to 0": `"0" is no revision number`,
		"status":                    "status names one app",
		"train leave":               "train takes status, delay or depart",
		"train delay a b":           "train takes status, delay or depart",
		"status web --team":         "--team needs a team's name",
		strings.Repeat("x", 1001):   "at most 1000 bytes",
	} {
		_, err := Parse(text)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%.40q) = %v, want an error saying %q", text, err, want)
		}
	}
	if _, err := Parse("launch the rockets"); strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a word far from every verb got a suggestion: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"deploy web#1", "rollback a in b to 3", "--team", "promote x to y from z", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err == nil && c.Verb == "" {
			t.Errorf("Parse(%q) gave no verb", text)
		}
	})
}
