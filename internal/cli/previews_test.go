package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

var previewsTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// shopPreviews are the previews of team shop's apps: two active, one closed.
func shopPreviews(all bool) apiv1.List[apiv1.Preview] {
	l := apiv1.List[apiv1.Preview]{Items: []apiv1.Preview{
		{ID: 3, Team: "shop", App: "web", Base: "preview", PR: 12, URL: "http://127.0.0.1:3000/shop/web/pulls/12", Branch: "feature/cart",
			SHA: "0123456789abcdef0123456789abcdef01234567", Env: "preview-shop-web-pr12", State: "active", CreatedAt: previewsTime, UpdatedAt: previewsTime},
		{ID: 1, Team: "shop", App: "api", Base: "preview", PR: 4, URL: "http://127.0.0.1:3000/shop/api/pulls/4", Branch: "fork-fix",
			SHA: "fedcba9876543210fedcba9876543210fedcba98", Fork: true, Env: "preview-shop-api-pr4", State: "active", CreatedAt: previewsTime, UpdatedAt: previewsTime},
	}}
	if all {
		l.Items = append(l.Items, apiv1.Preview{ID: 2, Team: "shop", App: "web", Base: "preview", PR: 9, URL: "http://127.0.0.1:3000/shop/web/pulls/9",
			Branch: "typo", SHA: "aaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbb", Env: "preview-shop-web-pr9", State: "closed", Reason: "merged",
			CreatedAt: previewsTime, UpdatedAt: previewsTime})
	}
	return l
}

// TestPreviewsList: an app's team is looked up and its active previews listed, short
// commits and closing reasons in the table; a team's, the closed ones too, as JSON; an
// empty list says how a pull request gets a preview; mistakes are usage errors and the
// server's refusals pass through.
func TestPreviewsList(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
	h.api.Expect("GET", "/api/v1/teams/shop/previews?app=web&limit=50").Reply(200, apiv1.List[apiv1.Preview]{Items: shopPreviews(false).Items[:1]})
	if err := h.run("previews", "list", "--app", "web"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"APP  PR   BRANCH        SHA           ENV                    STATE   UPDATED               URL\n"+
		"web  #12  feature/cart  0123456789ab  preview-shop-web-pr12  active  2026-03-04T05:06:07Z  http://127.0.0.1:3000/shop/web/pulls/12\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/previews?all=true&limit=5").Reply(200, shopPreviews(true))
	if err := h.run("previews", "list", "--team", "shop", "--all", "--limit", "5"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"APP  PR   BRANCH        SHA           ENV                    STATE            UPDATED               URL\n"+
		"web  #12  feature/cart  0123456789ab  preview-shop-web-pr12  active           2026-03-04T05:06:07Z  http://127.0.0.1:3000/shop/web/pulls/12\n"+
		"api  #4   fork-fix      fedcba987654  preview-shop-api-pr4   active           2026-03-04T05:06:07Z  http://127.0.0.1:3000/shop/api/pulls/4\n"+
		"web  #9   typo          aaaaaaaaaaaa  preview-shop-web-pr9   closed (merged)  2026-03-04T05:06:07Z  http://127.0.0.1:3000/shop/web/pulls/9\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/previews?all=true&limit=50").Reply(200, shopPreviews(true))
	if err := h.run("previews", "list", "--team", "shop", "--all", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Preview
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, h.out)
	}
	if diff := cmp.Diff(shopPreviews(true).Items, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/previews?app=web&limit=50").Reply(200, apiv1.List[apiv1.Preview]{Items: []apiv1.Preview{}})
	if err := h.run("previews", "list", "--app", "web", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "", "no active previews of shop/web (--all lists the closed ones): a pull request gets one when the app's berth.yaml has git: previews: {env: ENV}\n")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/previews?all=true&limit=50").Reply(200, apiv1.List[apiv1.Preview]{Items: []apiv1.Preview{}})
	if err := h.run("previews", "list", "--team", "shop", "--all"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "", "no previews of team shop's apps yet: a pull request gets one when the app's berth.yaml has git: previews: {env: ENV}\n")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/previews?limit=50").
		ReplyError(403, apiv1.Error{Code: "forbidden", Message: "bob is not a member of team shop"})
	wantExit(t, h.run("previews", "list", "--team", "shop"), "bob is not a member of team shop", false)

	h = newHarness(t, false)
	wantExit(t, h.run("previews", "list"), "name an app (--app APP) or a team (--team TEAM)", true)
	wantExit(t, h.run("previews", "list", "--team", "shop", "--limit", "0"), "--limit must be 1 to 1000, not 0", true)
	wantExit(t, h.run("previews", "list", "--team", "shop", "-o", "xml"), `invalid output format "xml": use one of table, json, yaml`, true)
	h.wantOutput(t, "", "")
}

// TestPreviewsHelp: the help says what makes a preview and how to see the closed ones.
func TestPreviewsHelp(t *testing.T) {
	h := newHarness(t, false)
	if err := h.run("previews", "list", "--help"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"previews: {env: preview}", "berth previews list --app web", "--all"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, h.out)
		}
	}
}
