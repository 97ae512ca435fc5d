package web

import "strings"

// diffLine is one line of a unified diff: Op is ' ', '+', '-', or '@' for a hunk header.
type diffLine struct {
	Op   string
	Text string
}

// maxDiffCells bounds the work of the longest-common-subsequence table; bigger inputs are
// shown as one removal and one addition.
const maxDiffCells = 4_000_000

// lineDiff returns the lines that differ between a and b with context lines of context
// around each change, in hunks; nil when they are equal.
func lineDiff(a, b string, context int) []diffLine {
	if a == b {
		return nil
	}
	x, y := splitLines(a), splitLines(b)
	ops := editScript(x, y)
	// Keep changed lines and context around them.
	keep := make([]bool, len(ops))
	for i, op := range ops {
		if op.Op != " " {
			for j := max(0, i-context); j <= min(len(ops)-1, i+context); j++ {
				keep[j] = true
			}
		}
	}
	var out []diffLine
	for i, op := range ops {
		if !keep[i] {
			continue
		}
		if i == 0 || !keep[i-1] {
			out = append(out, diffLine{Op: "@", Text: "…"})
		}
		out = append(out, op)
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// editScript is the longest-common-subsequence edit script from x to y.
func editScript(x, y []string) []diffLine {
	// Common prefix and suffix are cheap and usually most of the text.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	var out []diffLine
	for _, l := range x[:pre] {
		out = append(out, diffLine{" ", l})
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	if (len(mx)+1)*(len(my)+1) > maxDiffCells {
		for _, l := range mx {
			out = append(out, diffLine{"-", l})
		}
		for _, l := range my {
			out = append(out, diffLine{"+", l})
		}
	} else {
		// lcs[i][j] is the LCS length of mx[i:] and my[j:].
		w := len(my) + 1
		lcs := make([]int32, (len(mx)+1)*w)
		for i := len(mx) - 1; i >= 0; i-- {
			for j := len(my) - 1; j >= 0; j-- {
				if mx[i] == my[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(mx) || j < len(my) {
			switch {
			case i < len(mx) && j < len(my) && mx[i] == my[j]:
				out = append(out, diffLine{" ", mx[i]})
				i, j = i+1, j+1
			case i < len(mx) && (j == len(my) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				out = append(out, diffLine{"-", mx[i]})
				i++
			default:
				out = append(out, diffLine{"+", my[j]})
				j++
			}
		}
	}
	for _, l := range x[len(x)-suf:] {
		out = append(out, diffLine{" ", l})
	}
	return out
}
