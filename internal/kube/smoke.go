package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/berth-dev/berth/internal/smoke"
)

// serviceProxy sends requests to Services through the API server's service proxy
// (/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH), so Berth reaches an app with the
// cluster credentials it already has and no network path of its own to pods.
type serviceProxy struct {
	hc   *http.Client
	base string // the API server's URL, without a trailing slash
}

func newServiceProxy(cfg *rest.Config) (*serviceProxy, error) {
	cfg = rest.CopyConfig(cfg)
	// Each request has its context's deadline; the config's timeout would cut it earlier.
	cfg.Timeout = 0
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	// A redirect is the app's answer, never followed: following one would send Berth's
	// cluster credentials wherever the app points (client-go adds them to every request),
	// and fetch with them what the app names on the API server.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, err
	}
	return &serviceProxy{hc: hc, base: strings.TrimSuffix(base.String(), "/")}, nil
}

// HTTP sends one request of an HTTP smoke check to the Service's port and reads at most
// smoke.MaxBody bytes of the answer. An answer of the API server itself (it could not
// reach the Service, or refused Berth the proxy) is an error saying so, not the app's.
func (c *Cluster) HTTP(ctx context.Context, r smoke.HTTPRequest) (smoke.HTTPResponse, error) {
	p, err := url.Parse(r.Path)
	if err != nil || !strings.HasPrefix(p.Path, "/") || p.Host != "" || p.Scheme != "" {
		return smoke.HTTPResponse{}, fmt.Errorf("path %q: want an absolute path such as /health", r.Path)
	}
	u := c.proxy.base + "/api/v1/namespaces/" + url.PathEscape(r.Namespace) + "/services/" +
		url.PathEscape(r.Service+":"+r.Port) + "/proxy" + p.EscapedPath()
	if p.RawQuery != "" {
		u += "?" + p.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, nil)
	if err != nil {
		return smoke.HTTPResponse{}, err
	}
	resp, err := c.proxy.hc.Do(req)
	if err != nil {
		return smoke.HTTPResponse{}, fmt.Errorf("%s %s through the API server: %w", r.Method, r.Path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, smoke.MaxBody))
	if err != nil {
		return smoke.HTTPResponse{}, fmt.Errorf("read the answer: %w", err)
	}
	if msg, ok := apiServerStatus(resp, body); ok {
		return smoke.HTTPResponse{}, errors.New(msg)
	}
	return smoke.HTTPResponse{Status: resp.StatusCode, Body: body}, nil
}

// apiServerStatus recognizes a failure the API server answered itself: a Status object in
// JSON with a failure code. An app answering exactly that is vanishingly rare.
func apiServerStatus(resp *http.Response, body []byte) (string, bool) {
	if resp.StatusCode < 400 {
		return "", false
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return "", false
	}
	var st metav1.Status
	if json.Unmarshal(body, &st) != nil || st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure {
		return "", false
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return "the API server refused Berth the service proxy: " + st.Message, true
	}
	return "the API server could not reach the service: " + st.Message, true
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Waiting reasons that mean a command's container will not start by itself.
var stuck = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// commandPoll is how often a command's Job is looked at.
const commandPoll = 200 * time.Millisecond

// Command runs a command smoke check's Job to its end and returns its container's exit code
// and the end of its log. The Job is deleted afterwards, whatever happened (its
// ttlSecondsAfterFinished cleans up after a crash).
func (c *Cluster) Command(ctx context.Context, r smoke.CommandRequest) (smoke.CommandResult, error) {
	job := r.Job.DeepCopy()
	job.Namespace = r.Namespace
	err := c.retry(ctx, "create smoke job", func(ctx context.Context) error {
		_, err := c.batch.Jobs(r.Namespace).Create(ctx, job, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			return nil // an earlier try made it and its answer was lost: the name is this attempt's own
		}
		return err
	})
	if err != nil {
		return smoke.CommandResult{ExitCode: -1}, fmt.Errorf("create job %s: %w", job.Name, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		bg := metav1.DeletePropagationBackground
		err := c.retry(dctx, "delete smoke job", func(ctx context.Context) error {
			return c.batch.Jobs(r.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
		})
		if err != nil && !apierrors.IsNotFound(err) {
			c.log.Warn("delete smoke job", "namespace", r.Namespace, "job", job.Name, "err", err)
		}
	}()
	pod, exit, err := c.waitCommand(ctx, r.Namespace, job.Name)
	res := smoke.CommandResult{ExitCode: exit}
	if pod != "" {
		res.Log = c.logTail(ctx, r.Namespace, pod, job.Spec.Template.Spec.Containers[0].Name)
	}
	return res, err
}

// waitCommand waits until the Job's pod has a terminated container, and returns the pod
// and the exit code.
func (c *Cluster) waitCommand(ctx context.Context, ns, job string) (pod string, exit int, err error) {
	sel := metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job}
	t := time.NewTicker(commandPoll)
	defer t.Stop()
	last := "not created yet"
	for {
		var pods *corev1.PodList
		err := c.retry(ctx, "list smoke pods", func(ctx context.Context) error {
			var err error
			pods, err = c.core.Pods(ns).List(ctx, sel)
			return err
		})
		if err != nil {
			return pod, -1, err
		}
		for _, p := range pods.Items {
			pod = p.Name
			last = commandPodState(&p)
			for _, cs := range p.Status.ContainerStatuses {
				if term := cs.State.Terminated; term != nil {
					return pod, int(term.ExitCode), nil
				}
				if w := cs.State.Waiting; w != nil && stuck[w.Reason] {
					return pod, -1, fmt.Errorf("the command's container cannot start: %s: %s", w.Reason, w.Message)
				}
			}
			if p.Status.Phase == corev1.PodFailed && len(p.Status.ContainerStatuses) == 0 {
				return pod, -1, fmt.Errorf("the command's pod failed: %s %s", p.Status.Reason, p.Status.Message)
			}
		}
		j, err := c.batch.Jobs(ns).Get(ctx, job, metav1.GetOptions{})
		if err == nil {
			for _, cond := range j.Status.Conditions {
				if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue && len(pods.Items) == 0 {
					return pod, -1, fmt.Errorf("job %s failed: %s", job, cond.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			return pod, -1, fmt.Errorf("its pod was %s: %w", last, ctx.Err())
		case <-t.C:
		}
	}
}

// commandPodState says where a pod is, for a command that did not finish: its phase, and why it
// waits (unschedulable, pulling an image, ...).
func commandPodState(p *corev1.Pod) string {
	s := string(p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			return s + ", " + c.Reason + ": " + c.Message
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return s + ", " + w.Reason
		}
		if cs.State.Running != nil {
			return s + ", running"
		}
	}
	return s
}

// logTail reads the end of a container's log: its last lines, at most smoke.MaxLog bytes
// of them, starting at a line. At most maxLogRead bytes are read in all.
func (c *Cluster) logTail(ctx context.Context, ns, pod, container string) []byte {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	tail := int64(500)
	rc, err := c.core.Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &tail}).Stream(ctx)
	if err != nil {
		return []byte("(its log could not be read: " + err.Error() + ")")
	}
	defer rc.Close()
	return lastBytes(io.LimitReader(rc, maxLogRead), smoke.MaxLog)
}

// maxLogRead bounds what logTail reads of a command's log.
const maxLogRead = 16 << 20

// lastBytes reads r to its end and returns its last n bytes at most, from the start of a
// line when it had to cut.
func lastBytes(r io.Reader, n int) []byte {
	keep := make([]byte, 0, 2*n)
	buf := make([]byte, 32<<10)
	cut := false
	for {
		k, err := r.Read(buf)
		keep = append(keep, buf[:k]...)
		if len(keep) > n {
			keep = append(keep[:0], keep[len(keep)-n:]...)
			cut = true
		}
		if err != nil {
			break
		}
	}
	if cut {
		if i := bytes.IndexByte(keep, '\n'); i >= 0 {
			keep = keep[i+1:]
		}
	}
	return keep
}
