package probe

import (
	"testing"
)

func TestScrub(t *testing.T) {
	c := Config{
		Server:      "https://berth.example.com",
		Token:       "probe-tok",
		HTTPURL:     "http://web:h++p-pw@probe.svc/healthz",
		DatabaseURL: "postgres://probe:p%40ss%2Fw0rd@db:5432/probe?sslmode=disable",
		S3SecretKey: "s3/secret+key",
		QueueURL:    "nats://natstoken@nats:4222",
		QueueToken:  "queue-tok",
	}
	s := newScrubber(c)
	for _, tc := range []struct{ in, want string }{
		{"Bearer probe-tok refused", "Bearer REDACTED refused"},
		{"dial postgres://probe:p%40ss%2Fw0rd@db:5432/probe: refused", "dial postgres://probe:REDACTED@db:5432/probe: refused"},
		{"password p@ss/w0rd refused", "password REDACTED refused"},
		{"signature of s3/secret+key or s3%2Fsecret%2Bkey", "signature of REDACTED or REDACTED"},
		{"GET http://web:h++p-pw@probe.svc: no", "GET http://web:REDACTED@probe.svc: no"},
		{"nats://natstoken@nats:4222 and queue-tok", "nats://REDACTED@nats:4222 and REDACTED"},
		{"nothing secret", "nothing secret"},
	} {
		if got := s.scrub(tc.in); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}

	kv := Config{DatabaseURL: "host=db user=probe password='it\\'s secret' dbname=probe"}
	if got := newScrubber(kv).scrub("auth as probe with it's secret failed"); got != "auth as probe with REDACTED failed" {
		t.Errorf("keyword/value DSN: %q", got)
	}
	// A secret added later (the service account's token, once read) is scrubbed too.
	s.add("sa-token")
	if got := s.scrub("token sa-token refused"); got != "token REDACTED refused" {
		t.Errorf("added secret: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@db/x", "postgres://u:xxxxx@db/x"},
		{"postgres://u:sec ret%zz@db/x", "postgres://u:xxxxx@db/x"}, // url.Parse refuses it
		{"http://host/path", "http://host/path"},
		{"berth:8080", "berth:8080"},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
