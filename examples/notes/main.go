// Command notes is the example app of a postgres resource: an HTTP service on $PORT that
// keeps notes in the database $DATABASE_URL names (the url output Berth's postgres
// provisioner gives: berth.yaml passes ${resources.db.url}). POST /notes stores one, GET
// /notes lists them; /ready answers only while the database does. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("notes stopped", "err", err)
		os.Exit(1)
	}
}

// maxNote bounds a note's body.
const maxNote = 4 << 10

func run(log *slog.Logger) error {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		return errors.New("DATABASE_URL is not set: declare a postgres resource and pass ${resources.db.url}")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, which holds the password.
		return errors.New("DATABASE_URL is not a PostgreSQL URL")
	}
	defer pool.Close()
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(pool, log), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("notes listening", "port", port)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// note is one stored note.
type note struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

const schema = `CREATE TABLE IF NOT EXISTS notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)`

func newHandler(pool *pgxpool.Pool, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, schema); err != nil {
			log.Warn("database not ready", "err", err)
			http.Error(w, "database not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxNote+1))
		if err != nil || len(body) > maxNote || len(strings.TrimSpace(string(body))) == 0 {
			http.Error(w, fmt.Sprintf("a note is 1 to %d bytes of text", maxNote), http.StatusBadRequest)
			return
		}
		var n note
		n.Body = string(body)
		if _, err := pool.Exec(r.Context(), schema); err == nil {
			err = pool.QueryRow(r.Context(), "INSERT INTO notes (body) VALUES ($1) RETURNING id", n.Body).Scan(&n.ID)
		}
		if err != nil {
			log.Error("store note", "err", err)
			http.Error(w, "cannot store the note", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(n)
	})
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		notes := []note{}
		rows, err := pool.Query(r.Context(), "SELECT id, body FROM notes ORDER BY id LIMIT 1000")
		if err == nil {
			for rows.Next() {
				var n note
				if err = rows.Scan(&n.ID, &n.Body); err != nil {
					break
				}
				notes = append(notes, n)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err != nil {
			log.Error("list notes", "err", err)
			http.Error(w, "cannot list the notes", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(notes)
	})
	return mux
}
