package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/backup"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/chat"
	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/gitflow"
	"github.com/berth-dev/berth/internal/gitops"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/probes"
	"github.com/berth-dev/berth/internal/prom"
	"github.com/berth-dev/berth/internal/registry"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/slackbot"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/train"
	"github.com/berth-dev/berth/internal/web"
)

// runServer wires the server's adapters — store, service, HTTP — and serves until ctx ends
// (SIGINT or SIGTERM), then drains in-flight requests.
func runServer(ctx context.Context, o *cli.ServerOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(o.IO.ErrOut, &slog.HandlerOptions{Level: level}))

	if _, sqlite := store.SQLiteFile(o.Database); sqlite {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	key, err := seal.Load(o.SecretsKeyFile, o.SecretsKey)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, o.Database, store.WithLogger(log), store.WithSecretsKey(key))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	if key == nil {
		if key, err = defaultSecretsKey(ctx, st, o.DataDir, log); err != nil {
			return err
		}
		st.UseSecretsKey(key)
	}
	// A wrong or missing key would fail every deploy that reads a secret: refuse to start,
	// naming the key id the stored secrets need.
	if err := st.CheckSecretsKey(ctx); err != nil {
		return err
	}
	if key != nil {
		log.Info("secrets key configured", "key_id", key.ID())
	} else {
		log.Info("no secrets key configured: secrets cannot be set", "hint", seal.Hint)
	}

	svc := service.New(st, log, time.Now)
	clusters := kube.NewPool(log, o.KubeQPS, o.KubeBurst)
	svc.SetLive(clusters)
	svc.SetRemover(appRemover{pool: clusters, rules: o.PrometheusRulesDir, url: o.PrometheusURL})
	svc.SetClaims(clusters)
	svc.SetLogs(clusters)
	if o.PrometheusURL != "" {
		svc.SetSignals(prom.Client{URL: o.PrometheusURL})
	}
	pg := newPostgres(log)
	svc.SetPostgresAdmin(pg)
	engine, err := deploy.New(st, func(ctx context.Context, env berth.Environment) (deploy.Cluster, error) {
		return clusters.For(ctx, env)
	}, log, deploy.Options{
		Workers: o.Workers, DefaultTimeout: o.DeployTimeout, Lease: o.DeployLease, Databases: pg,
		Images: &registry.Checker{Mirrors: o.RegistryMirrors, Keychain: authn.DefaultKeychain}, ImageWait: o.ImageWait,
		GitOps: gitOps{git: &gitops.Client{}}, Rules: ruleDir(o), AlertScale: o.AlertTimeScale})
	if err != nil {
		return err
	}
	svc.SetNotifier(engine)
	// A platform repository's webhook wakes the watcher of GitOps pull requests (its poll,
	// --gitops-poll, stays as the fallback).
	svc.SetGitOpsNotifier(notifyFunc(engine.NotifyPullRequests))
	svc.SetSmoker(engine)
	bkey, err := backupKey(o, log)
	if err != nil {
		return err
	}
	if st.Dialect() == store.DialectPostgres && o.BackupKeyFile == "" && o.BackupKey == "" {
		// Any server of several may take a restore up: each needs the key that sealed it.
		log.Warn("servers sharing a PostgreSQL database each made their own backup key: give them all the same one "+
			"(--backup-key-file or BERTH_BACKUP_KEY), and a backup store they all reach (berth backup-stores set; berth envs set-backup-store)",
			"backup_key_id", bkey.ID())
	}
	stores := backupStores{st: st, dir: backupDir(o)}
	backups, err := backup.New(st, backup.Options{Databases: pgadmin.NewBackups(pgadmin.New(log)), Stores: stores,
		Key: bkey, Lease: o.DeployLease, Logger: log})
	if err != nil {
		return err
	}
	svc.SetBackupNotifier(backups)
	svc.SetBackupStoreChecker(stores)
	secret, err := svc.Bootstrap(ctx, o.BootstrapToken)
	if err != nil {
		return err
	}
	if secret != "" && o.BootstrapToken == "" {
		// Shown once, on the terminal of whoever started the server; never logged.
		fmt.Fprintf(o.IO.Out, "created global admin %q; its token, shown only now:\n\n  %s\n\n", service.BootstrapUser, secret)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(backup.NewMetrics(st, time.Now, log))
	probeMetrics := probes.NewMetrics(st, log)
	reg.MustRegister(probeMetrics)
	srv := api.New(svc, log, reg, func(ctx context.Context) error { return st.DB().PingContext(ctx) })
	dashboard, err := web.New(svc, log)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	srv.Mount("/", dashboard)
	var announcer *chat.Announcer // one message per deploy in its team's channel
	var trainAnnouncer train.Chat // where trains announce themselves
	var backupChat backup.Chat    // where stale backups and failed drills are announced
	var probeChat probes.Chat     // where failing probes and their recoveries are announced
	if o.SlackSigningSecretFile != "" {
		bot, err := slackBot(svc, log, o)
		if err != nil {
			return err
		}
		srv.Mount("/chat/slack/", bot)
		defer bot.Close()
		announcer = chat.NewAnnouncer(svc, bot, slackbot.Provider, log)
		trainAnnouncer = trainChat{bot}
		backupChat = trainChat{bot}
		probeChat = trainChat{bot}
	}

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running? choose another address with --listen)", o.Listen, err)
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Followed log streams last until their clients go: end them, or they hold the
	// shutdown up until its timeout.
	httpSrv.RegisterOnShutdown(svc.EndStreams)
	fmt.Fprintf(o.IO.Out, "berth server listening on http://%s (database: %s); dashboard at http://%s/\n", ln.Addr(), st.Dialect(), ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "database", st.Dialect())

	public := o.PublicURL
	if public == "" {
		public = "http://" + ln.Addr().String()
	}
	// Probe pods report to --probe-url, or to the address that serves only their reports,
	// or to where users reach the server.
	probeURL := cmp.Or(o.ProbeURL, public)
	var probeSrv *http.Server
	if o.ProbeListen != "" {
		pln, err := net.Listen("tcp", o.ProbeListen)
		if err != nil {
			return fmt.Errorf("listen on %s for probe reports: %w", o.ProbeListen, err)
		}
		probeSrv = &http.Server{Handler: api.ProbeReportsOnly(srv.Handler()), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { _ = probeSrv.Serve(pln) }()
		defer probeSrv.Close()
		if o.ProbeURL == "" {
			probeURL = "http://" + pln.Addr().String()
		}
		log.Info("serving probe reports", "addr", pln.Addr().String())
	}
	prober := probes.New(st, clusters, pg, probes.Options{Image: o.ProbeImage, ServerURL: probeURL, Chat: probeChat,
		Channel: o.PlatformChannel, Metrics: probeMetrics, Logger: log})
	svc.SetProbeNotifier(prober)
	svc.SetHooks(hooks{}, public)
	git := gitflow.New(st, svc, forges, log, gitflow.Options{PublicURL: public, Lease: 2 * o.DeployLease,
		PreviewTTL: o.PreviewTTL, IngressPort: o.IngressPort})
	svc.SetGitNotifier(git)
	trains := train.New(st, svc, trainForges, trainAnnouncer, log, train.Options{PublicURL: public})
	svc.SetTrainNotifier(trains)
	backupSchedule := backup.NewScheduler(st, stores, backups, backup.SchedulerOptions{Chat: backupChat, Logger: log})

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		if o.Workers > 0 { // --workers 0: an API-only replica
			var wg sync.WaitGroup
			wg.Go(func() { engine.Run(workCtx) })
			wg.Go(func() { engine.WatchPullRequests(workCtx, gitOps{}, o.GitOpsPoll) })
			wg.Go(func() { git.Run(workCtx) })
			wg.Go(func() { trains.Run(workCtx) })
			wg.Go(func() { backups.Run(workCtx) })
			wg.Go(func() { backupSchedule.Run(workCtx) })
			wg.Go(func() { prober.Run(workCtx) })
			if announcer != nil {
				wg.Go(func() { announcer.Run(workCtx) })
			}
			if o.PrometheusRulesDir != "" {
				rules := prom.RuleDir{Dir: o.PrometheusRulesDir, ReloadURL: o.PrometheusURL}
				wg.Go(func() { syncRules(workCtx, st, clusters, rules, rulesSyncEvery, log) })
			}
			wg.Wait()
		}
	}()
	defer keepEvents(workCtx, svc, clusters, o, log)() // waits after stopWork, deferred next, ends it
	defer func() { stopWork(); <-workersDone }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// rotateKey wires `berth server rotate-key`: the store opened with the current key, and
// the service's rotation, which re-encrypts every secret in one transaction.
func rotateKey(ctx context.Context, o *cli.RotateKeyOptions) error {
	cur, err := seal.Load(o.SecretsKeyFile, o.SecretsKey)
	if err != nil {
		return fmt.Errorf("current key: %w", err)
	}
	if cur == nil { // the data directory's own key, if the server made one
		if cur, err = seal.Load(filepath.Join(o.DataDir, "secrets.key"), ""); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("current key: %w", err)
		}
	}
	next, err := seal.Load(o.NewKeyFile, "")
	if err != nil {
		return fmt.Errorf("new key: %w", err)
	}
	if path, sqlite := store.SQLiteFile(o.Database); sqlite {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("database %s: %w", o.Database, err)
		}
	}
	st, err := store.Open(ctx, o.Database, store.WithSecretsKey(cur))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	svc := service.New(st, slog.New(slog.NewJSONHandler(o.IO.ErrOut, nil)), time.Now)
	n, err := svc.RotateSecretsKey(ctx, next)
	if err != nil {
		return err
	}
	from := "no key"
	if cur != nil {
		from = "key id " + cur.ID()
	}
	fmt.Fprintf(o.IO.Out, "re-encrypted %d secret values from %s to key id %s\nrestart every berth server with only the new key (--secrets-key-file %s)\n",
		n, from, next.ID(), o.NewKeyFile)
	return nil
}

// defaultSecretsKey is the key of a SQLite server started without one: the file
// secrets.key in the data directory, beside the database, made on the first start. A
// database whose secrets were sealed with a configured key gets no new one (the start then
// fails, naming the key it needs), nor does PostgreSQL, whose replicas must share theirs.
func defaultSecretsKey(ctx context.Context, st *store.Store, dataDir string, log *slog.Logger) (*seal.Key, error) {
	if st.Dialect() != store.DialectSQLite {
		return nil, nil
	}
	file := filepath.Join(dataDir, "secrets.key")
	ids, err := st.SecretKeyIDs(ctx)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		k, err := seal.Load(file, "")
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return k, err
	}
	k, created, err := seal.LoadOrCreate(file)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("generated a secrets key: keep a copy of it outside this machine, or keep it elsewhere and start with --secrets-key-file",
			"path", file, "key_id", k.ID())
	}
	return k, nil
}

// slackBot is the chat bot's Slack edge, its secrets read from the files the flags name.
func slackBot(svc *service.Service, log *slog.Logger, o *cli.ServerOptions) (*slackbot.Handler, error) {
	read := func(flag, path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flag, err)
		}
		if v := strings.TrimSpace(string(b)); v != "" && len(v) <= 4096 {
			return v, nil
		}
		return "", fmt.Errorf("%s: %s holds no secret (or more than 4096 bytes)", flag, path)
	}
	secret, err := read("--slack-signing-secret-file", o.SlackSigningSecretFile)
	if err != nil {
		return nil, err
	}
	token, err := read("--slack-token-file", o.SlackTokenFile)
	if err != nil {
		return nil, err
	}
	return slackbot.New(svc, log, slackbot.Options{SigningSecret: secret, Token: token, TeamID: o.SlackTeamID, APIURL: o.SlackAPIURL,
		ResponseURLPrefix: o.SlackResponseURLPrefix})
}

// notifyFunc is a function as the service's Notifier.
type notifyFunc func()

func (f notifyFunc) Notify() { f() }
