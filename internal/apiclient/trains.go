package apiclient

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Trains lists team's deployment trains; team "" lists those of every team the caller
// can see, and name, when not "", only those called name.
func (c *Client) Trains(ctx context.Context, team, name string) ([]apiv1.Train, error) {
	var out apiv1.List[apiv1.Train]
	if team != "" {
		return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/trains", nil, nil, &out)
	}
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	return out.Items, c.do(ctx, "GET", "/api/v1/trains", q, nil, &out)
}

// CreateTrain makes a deployment train of team.
func (c *Client) CreateTrain(ctx context.Context, team string, in apiv1.CreateTrain) (apiv1.Train, error) {
	var out apiv1.Train
	return out, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/trains", nil, in, &out)
}

// Train returns team's train name with its next departure and its last runs (0: the
// server's default number).
func (c *Client) Train(ctx context.Context, team, name string, runs int) (apiv1.TrainStatus, error) {
	q := url.Values{}
	if runs > 0 {
		q.Set("runs", strconv.Itoa(runs))
	}
	var out apiv1.TrainStatus
	return out, c.do(ctx, "GET", trainPath(team, name), q, nil, &out)
}

// UpdateTrain changes the settings of team's train name that in holds.
func (c *Client) UpdateTrain(ctx context.Context, team, name string, in apiv1.UpdateTrain) (apiv1.Train, error) {
	var out apiv1.Train
	return out, c.do(ctx, "PATCH", trainPath(team, name), nil, in, &out)
}

// DeleteTrain deletes team's train name and its history.
func (c *Client) DeleteTrain(ctx context.Context, team, name string) error {
	return c.do(ctx, "DELETE", trainPath(team, name), nil, nil, nil)
}

// DelayTrain postpones the next departure of team's train name by its delay.
func (c *Client) DelayTrain(ctx context.Context, team, name string) (apiv1.TrainDelayed, error) {
	var out apiv1.TrainDelayed
	return out, c.do(ctx, "POST", trainPath(team, name)+"/delay", nil, nil, &out)
}

// DepartTrain sends the next departure of team's train name off now.
func (c *Client) DepartTrain(ctx context.Context, team, name string) (apiv1.TrainRun, error) {
	var out apiv1.TrainRun
	return out, c.do(ctx, "POST", trainPath(team, name)+"/depart", nil, nil, &out)
}

// FreezeTrain keeps team's train name in the station until until, or for d from now on
// the server when until is zero, saying why.
func (c *Client) FreezeTrain(ctx context.Context, team, name string, until time.Time, d time.Duration, reason string) (apiv1.Train, error) {
	in := apiv1.FreezeTrain{Reason: reason}
	if until.IsZero() {
		in.For = apiv1.FormatDuration(d)
	} else {
		in.Until = &until
	}
	var out apiv1.Train
	return out, c.do(ctx, "POST", trainPath(team, name)+"/freeze", nil, in, &out)
}

// UnfreezeTrain ends the freeze of team's train name.
func (c *Client) UnfreezeTrain(ctx context.Context, team, name string) (apiv1.Train, error) {
	var out apiv1.Train
	return out, c.do(ctx, "POST", trainPath(team, name)+"/unfreeze", nil, nil, &out)
}

func trainPath(team, name string) string {
	return "/api/v1/teams/" + esc(team) + "/trains/" + esc(name)
}
