package devingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/client-go/tools/cache"
)

// DefaultClassAnnotation marks an IngressClass as the cluster's default.
const DefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

// Controller keeps a routing table of the cluster's Ingresses of one class and proxies
// requests by it. Start it with Run; it is an http.Handler.
type Controller struct {
	Core       corev1client.CoreV1Interface
	Networking networkingv1client.NetworkingV1Interface
	// Class is the IngressClass this controller implements.
	Class string
	// StatusAddress, when set, is written to the status of every Ingress the controller
	// serves (what `kubectl get ingress` shows as ADDRESS).
	StatusAddress string
	// Dial connects to a Service's cluster IP and port; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	Log  *slog.Logger

	table    atomic.Pointer[Table]
	synced   atomic.Bool
	services cache.Store
	proxy    *httputil.ReverseProxy
	kick     chan struct{}
	once     sync.Once
}

// backendKey carries the chosen backend's address from ServeHTTP to the proxy.
type backendKey struct{}

func (c *Controller) init() {
	c.once.Do(func() {
		if c.Log == nil {
			c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
		dial := c.Dial
		if dial == nil {
			dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		}
		c.kick = make(chan struct{}, 1)
		c.table.Store(&Table{})
		c.proxy = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				target := pr.In.Context().Value(backendKey{}).(string)
				pr.SetURL(&url.URL{Scheme: "http", Host: target})
				pr.Out.Host = pr.In.Host
				pr.SetXForwarded()
			},
			Transport: &http.Transport{
				DialContext: dial, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
				ResponseHeaderTimeout: 60 * time.Second,
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				target := r.Context().Value(backendKey{}).(string)
				c.Log.Warn("backend did not answer", "host", r.Host, "path", r.URL.Path, "backend", target, "err", err)
				http.Error(w, fmt.Sprintf("ingress: the backend %s did not answer: %v", target, err), http.StatusBadGateway)
			},
		}
	})
}

// Synced reports whether the controller has read the cluster once and serves its routes.
func (c *Controller) Synced() bool { return c.synced.Load() }

// Table is the current routing table.
func (c *Controller) Table() *Table { c.init(); return c.table.Load() }

// Run watches Ingresses, IngressClasses and Services until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.init()
	if c.Core == nil || c.Networking == nil || c.Class == "" {
		return errors.New("devingress: Core, Networking and Class are required")
	}
	ingresses := informer(&networkingv1.Ingress{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Networking.Ingresses("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Networking.Ingresses("").Watch(ctx, o)
		})
	classes := informer(&networkingv1.IngressClass{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Networking.IngressClasses().List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Networking.IngressClasses().Watch(ctx, o)
		})
	services := informer(&corev1.Service{},
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Core.Services("").List(ctx, o)
		},
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Core.Services("").Watch(ctx, o)
		})
	c.services = services.GetStore()

	changed := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.poke() },
		UpdateFunc: func(any, any) { c.poke() },
		DeleteFunc: func(any) { c.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{ingresses, classes} {
		if _, err := inf.AddEventHandler(changed); err != nil {
			return err
		}
	}
	for _, inf := range []cache.SharedIndexInformer{ingresses, classes, services} {
		go inf.RunWithContext(ctx)
	}
	if !cache.WaitForCacheSync(ctx.Done(), ingresses.HasSynced, classes.HasSynced, services.HasSynced) {
		return ctx.Err()
	}
	c.rebuild(ctx, ingresses.GetStore(), classes.GetStore())
	c.synced.Store(true)
	c.Log.Info("ingress controller synced", "class", c.Class, "routes", c.table.Load().Routes())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.kick:
			c.rebuild(ctx, ingresses.GetStore(), classes.GetStore())
		}
	}
}

// informer lists and watches one kind across namespaces, without a resync.
func informer(obj runtime.Object,
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(&cache.ListWatch{ListWithContextFunc: list, WatchFuncWithContext: watchFn},
		obj, 0, cache.Indexers{})
}

func (c *Controller) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// rebuild makes a new table from the stores and writes the status address.
func (c *Controller) rebuild(ctx context.Context, ings, classes cache.Store) {
	isDefault := false
	if obj, ok, _ := classes.GetByKey(c.Class); ok {
		isDefault = obj.(*networkingv1.IngressClass).Annotations[DefaultClassAnnotation] == "true"
	}
	var mine []*networkingv1.Ingress
	for _, obj := range ings.List() {
		if ing := obj.(*networkingv1.Ingress); Owns(ing, c.Class, isDefault) {
			mine = append(mine, ing)
		}
	}
	t := NewTable(mine)
	c.table.Store(t)
	for _, s := range t.Skipped() {
		c.Log.Warn("ingress part not served", "reason", s)
	}
	if c.StatusAddress == "" {
		return
	}
	want := []networkingv1.IngressLoadBalancerIngress{{IP: c.StatusAddress}}
	for _, ing := range mine {
		if slices.EqualFunc(ing.Status.LoadBalancer.Ingress, want, func(a, b networkingv1.IngressLoadBalancerIngress) bool {
			return a.IP == b.IP && a.Hostname == b.Hostname && len(a.Ports) == 0
		}) {
			continue
		}
		upd := ing.DeepCopy()
		upd.Status.LoadBalancer.Ingress = want
		if _, err := c.Networking.Ingresses(ing.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			// A conflict means a newer version is on its way through the watch.
			c.Log.Warn("could not write the ingress status", "ingress", ing.Namespace+"/"+ing.Name, "err", err)
		}
	}
}

// ServeHTTP routes a request by its host and path and proxies it to the Service.
func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.init()
	if !c.synced.Load() {
		http.Error(w, "ingress: not synced with the cluster yet", http.StatusServiceUnavailable)
		return
	}
	b, ok := c.table.Load().Match(r.Host, r.URL.Path)
	if !ok {
		http.Error(w, fmt.Sprintf("ingress: no Ingress of class %q routes host %q path %q", c.Class, r.Host, r.URL.Path), http.StatusNotFound)
		return
	}
	target, err := c.address(b)
	if err != nil {
		http.Error(w, "ingress: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	c.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, target)))
}

// address resolves a backend to its Service's cluster IP and port.
func (c *Controller) address(b Backend) (string, error) {
	name := b.Namespace + "/" + b.Service
	obj, ok, err := c.services.GetByKey(name)
	if err != nil || !ok {
		return "", fmt.Errorf("service %s (from ingress %s) does not exist", name, b.Ingress)
	}
	svc := obj.(*corev1.Service)
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return "", fmt.Errorf("service %s (from ingress %s) has no cluster IP (headless and ExternalName services are not supported)", name, b.Ingress)
	}
	for _, p := range svc.Spec.Ports {
		if b.Port.Name != "" && p.Name == b.Port.Name || b.Port.Name == "" && p.Port == b.Port.Number {
			return net.JoinHostPort(ip, strconv.Itoa(int(p.Port))), nil
		}
	}
	port := b.Port.Name
	if port == "" {
		port = strconv.Itoa(int(b.Port.Number))
	}
	return "", fmt.Errorf("service %s (from ingress %s) has no port %s", name, b.Ingress, port)
}
