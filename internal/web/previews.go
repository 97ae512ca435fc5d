package web

import (
	"net/http"
	"net/url"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// previewsPageLimit bounds how many previews, newest first, the previews page lists.
const previewsPageLimit = 200

// previewsData is a team's pull-request previews: the active ones, or all of them.
type previewsData struct {
	Team     string
	All      bool
	Previews []previewRow
}

type previewRow struct {
	berth.Preview
	// ShortSHA is the head commit's first 12 characters, as the CLI shows it.
	ShortSHA string
	// Link is the pull request's page, when its URL is a web page's (http or https).
	Link string
}

func (d previewsData) PageTitle() string { return "Previews · " + d.Team }

// previews lists a team's pull requests' previews, each with a link to its pull request
// and to its app's page; ?all=true adds the closed ones.
func (h *Handler) previews(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	d := previewsData{Team: r.PathValue("team"), All: r.URL.Query().Get("all") == "true"}
	ps, err := h.svc.Previews(r.Context(), p, d.Team, "", d.All, previewsPageLimit)
	if err != nil {
		return err
	}
	for _, pv := range ps {
		short := pv.SHA
		if len(short) > 12 {
			short = short[:12]
		}
		row := previewRow{Preview: pv, ShortSHA: short}
		// The forge said where the pull request is; html/template would neuter another
		// scheme's URL, but a dead link helps nobody: it is shown as text instead.
		if u, err := url.Parse(pv.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			row.Link = pv.URL
		}
		d.Previews = append(d.Previews, row)
	}
	h.render(w, r, http.StatusOK, "previews", p, d)
	return nil
}
