package berth

// MaxCompareCommits bounds the commits a Comparison lists: GitHub's compare API lists at
// most that many in one answer.
const MaxCompareCommits = 250

// Commit is one commit of a repository as a forge's compare API lists it.
type Commit struct {
	SHA string `json:"sha"`
	// Message is the first line of the commit message, at most 200 bytes (cut at a rune
	// boundary).
	Message     string `json:"message"`
	AuthorName  string `json:"authorName,omitempty"`
	AuthorEmail string `json:"authorEmail,omitempty"`
	// AuthorLogin is the forge user the author's email belongs to, when the forge knows.
	AuthorLogin string `json:"authorLogin,omitempty"`
	// URL is the commit's page on the forge.
	URL string `json:"url,omitempty"`
}

// Comparison is what head holds that base does not.
type Comparison struct {
	// Base and Head are the commits or branches compared, as asked.
	Base, Head string
	// Commits are the newest of them, oldest first, at most MaxCompareCommits.
	Commits []Commit
	// Total is how many commits head is ahead of base: it may exceed len(Commits).
	Total int
}
