package apiclienttest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
)

// recorder is a testing.TB that keeps failures and cleanups instead of acting on them, so
// the fake's own failures can be checked.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// end runs the cleanups as the end of a test would, and returns every failure.
func (r *recorder) end() []string {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r.errs
}

func TestFake(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		expect func(s *apiclienttest.Server)
		call   func(c *apiclient.Client) error
		fails  []string // what the failures must say, in order
	}{{
		name: "every expected request came",
		expect: func(s *apiclienttest.Server) {
			s.Expect("GET", "/api/v1/apps?name=web").Reply(200, apiv1.List[apiv1.App]{Items: []apiv1.App{{Team: "shop", Name: "web"}}})
			s.Expect("POST", "/api/v1/teams").WithBody(apiv1.CreateTeam{Name: "shop"}).Reply(201, apiv1.Team{Name: "shop"})
		},
		call: func(c *apiclient.Client) error {
			apps, err := c.AppsNamed(ctx, "web")
			if err != nil || len(apps) != 1 || apps[0].Team != "shop" {
				return fmt.Errorf("apps %v, %v", apps, err)
			}
			_, err = c.CreateTeam(ctx, "shop")
			return err
		},
	}, {
		name:   "an unexpected request",
		expect: func(*apiclienttest.Server) {},
		call: func(c *apiclient.Client) error {
			if _, err := c.Teams(ctx); !apiclient.IsStatus(err, 501) {
				return fmt.Errorf("got %v, want a 501", err)
			}
			return nil
		},
		fails: []string{"unexpected request GET /api/v1/teams"},
	}, {
		name:   "an expected request that never came",
		expect: func(s *apiclienttest.Server) { s.Expect("DELETE", "/api/v1/teams/shop") },
		call:   func(*apiclient.Client) error { return nil },
		fails:  []string{"expected request DELETE /api/v1/teams/shop never came"},
	}, {
		name: "another query",
		expect: func(s *apiclienttest.Server) {
			s.Expect("GET", "/api/v1/apps?name=web").Reply(200, apiv1.List[apiv1.App]{})
		},
		call: func(c *apiclient.Client) error {
			c.AppsNamed(ctx, "api")
			return nil
		},
		fails: []string{"unexpected request GET /api/v1/apps?name=api", "expected request GET /api/v1/apps?name=web never came"},
	}, {
		name: "another body",
		expect: func(s *apiclienttest.Server) {
			s.Expect("POST", "/api/v1/teams").WithBody(apiv1.CreateTeam{Name: "shop"})
		},
		call: func(c *apiclient.Client) error {
			c.CreateTeam(ctx, "shoe")
			return nil
		},
		fails: []string{`POST /api/v1/teams body (-want +got)`},
	}} {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{TB: t}
			s := apiclienttest.New(r)
			c.expect(s)
			client, err := s.Client()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.call(client); err != nil {
				t.Error(err)
			}
			errs := r.end()
			if len(errs) != len(c.fails) {
				t.Fatalf("failures %q, want %d", errs, len(c.fails))
			}
			for i, want := range c.fails {
				if !strings.Contains(errs[i], want) {
					t.Errorf("failure %q does not say %q", errs[i], want)
				}
			}
		})
	}
}
