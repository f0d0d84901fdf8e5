// Package config reads the environment variables of CONTRACT §2 once, into a
// typed struct, and validates them so that a bad value stops the process at
// start with one line naming the variable and what it accepts.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// DBKind names the database engine behind RD_DATABASE_URL.
type DBKind string

// The two supported database engines.
const (
	SQLite   DBKind = "sqlite"
	Postgres DBKind = "postgres"
)

// Config is the validated configuration of one recoverydesk process.
type Config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	DBKind      DBKind
	// DSN is what database/sql opens: a file path with pragmas for SQLite,
	// the URL itself for PostgreSQL.
	DSN string

	S3Endpoint  string // empty: start the bundled local MinIO
	S3AccessKey string
	S3SecretKey string
	S3Bucket    string
	S3TLS       bool
	// S3Timeout bounds each object-store call (RD_S3_TIMEOUT); past it an
	// upload or evidence view answers 503 storage_unavailable.
	S3Timeout time.Duration
	// S3AllowPlaintext accepts an external store that cannot encrypt at
	// rest (RD_S3_ALLOW_PLAINTEXT=1); otherwise serve refuses to start.
	S3AllowPlaintext bool
	// EvidenceRetention is how long evidence of a finally decided case is
	// kept before the purge destroys it (RD_EVIDENCE_RETENTION, 180d).
	EvidenceRetention time.Duration

	// SecretKey seals sensitive values at rest and signs tokens. Empty after
	// Load when RD_SECRET_KEY is unset; EnsureSecret fills it from the data dir.
	SecretKey []byte

	SMSDriver  string // "outbox", "http", "aliyun" or "tencent"
	SMSHTTPURL string // the generic gateway's endpoint when SMSDriver is "http"
	// SMSCarrier configures the aliyun and tencent drivers.
	SMSCarrier SMSCarrier
	// SMSTimeout bounds one gateway call; SMSRetryFor is how long a message
	// is retried before it fails for good; SMSBackoffMax caps the wait
	// between two tries (the backoff doubles from one second up to it).
	SMSTimeout    time.Duration
	SMSRetryFor   time.Duration
	SMSBackoffMax time.Duration

	// JobRescueAfter is how long a job may stay running with its worker gone
	// before another worker runs it again (after a kill -9).
	JobRescueAfter time.Duration
	// ShutdownGrace is how long requests are still served after SIGTERM,
	// with /readyz already answering 503, before the server drains.
	ShutdownGrace time.Duration

	// ExtraHolidays and ExtraWorkdays correct the working-day calendar
	// (a holiday announced after the bundled data, or a year it lacks).
	ExtraHolidays []time.Time
	ExtraWorkdays []time.Time

	// HashConcurrency bounds the argon2id computations running at once in
	// this process (RD_HASH_CONCURRENCY, default: the number of cores): each
	// takes 64 MiB, so this bound is what keeps a login storm from taking
	// the server's memory.
	HashConcurrency int
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (RD_TRUSTED_PROXIES); from anyone else
	// those headers change nothing.
	TrustedProxies []netip.Prefix
	// MetricsToken, when set, is the bearer token /metrics demands
	// (RD_METRICS_TOKEN); when empty /metrics answers only in dev mode or
	// to loopback clients.
	MetricsToken string

	// QASamplePercent is the share of decisions (0–100) drawn into the
	// supervisors' quality-review queue; decisions on flagged cases always are.
	QASamplePercent int

	// Hotline is the applicants' hotline (RD_HOTLINE): each deployment
	// (province, city) sets its own.
	Hotline Hotline

	Dev      bool
	DevForce bool
}

// Hotline is the applicants' hotline: Text as shown (pages, SMS) and Tel, the
// number a tel: link dials (with area code, so that a mobile phone reaches it).
type Hotline struct {
	Text string
	Tel  string
}

// defaultHotline is the seed's hotline, as shown: RD_HOTLINE's default and
// the one home of the number.
const defaultHotline = "3873738|+867503873738"

// DefaultHotline is the hotline when RD_HOTLINE is unset.
func DefaultHotline() Hotline {
	h, _ := ParseHotline(defaultHotline)
	return h
}

// ParseHotline reads "TEXT" or "TEXT|TEL". Without a TEL the tel: number is
// TEXT's digits (and a leading +). TEL holds digits, an optional leading +
// and - separators; TEXT is one line of at most 40 characters.
func ParseHotline(v string) (Hotline, error) {
	text, tel, hasTel := strings.Cut(v, "|")
	text, tel = strings.TrimSpace(text), strings.TrimSpace(tel)
	if text == "" || len([]rune(text)) > 40 || strings.ContainsAny(text, "\r\n<>\"") {
		return Hotline{}, errors.New("bad hotline text")
	}
	if !hasTel {
		for i, r := range text {
			if r >= '0' && r <= '9' || r == '+' && i == 0 {
				tel += string(r)
			}
		}
	}
	digits := 0
	for i, r := range tel {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == '-':
		default:
			return Hotline{}, errors.New("bad hotline tel")
		}
	}
	if digits < 3 || digits > 20 {
		return Hotline{}, errors.New("bad hotline tel")
	}
	return Hotline{Text: text, Tel: tel}, nil
}

// SMSTrySlack is what one SMS delivery try may take beyond its gateway
// call (the database writes around it); a try is bounded by RD_SMS_TIMEOUT
// plus this, and a job is rescued only after longer than that.
const SMSTrySlack = 10 * time.Second

// SMSCarrier is a carrier account (阿里云短信 or 腾讯云短信): credentials,
// the approved signature, where its API is, and the approved template of
// every purpose, since a carrier sends nothing but approved templates.
type SMSCarrier struct {
	// KeyID and Secret: RD_SMS_ALIYUN_ACCESS_KEY_ID / _SECRET, or
	// RD_SMS_TENCENT_SECRET_ID / _KEY. Never logged.
	KeyID  string
	Secret string
	// AppID is Tencent's SmsSdkAppId (RD_SMS_TENCENT_SDK_APP_ID).
	AppID    string
	SignName string // RD_SMS_SIGN_NAME
	Region   string // RD_SMS_REGION (empty: the carrier's default)
	// Endpoint is RD_SMS_ENDPOINT's host[:port] (empty: the carrier's
	// public endpoint) and Scheme its scheme ("https" unless http:// was
	// given, for a gateway on an intranet).
	Endpoint string
	Scheme   string
	// Templates is RD_SMS_TEMPLATE_<PURPOSE> for every purpose.
	Templates map[vocab.Purpose]string
}

// TemplateVar is the variable naming purpose's carrier template, e.g.
// RD_SMS_TEMPLATE_RECOVERY_CODE.
func TemplateVar(p vocab.Purpose) string { return "RD_SMS_TEMPLATE_" + strings.ToUpper(string(p)) }

// loadCarrier reads the carrier account of driver ("aliyun" or
// "tencent"); a missing credential, signature or template is an error
// naming its variable, so serve refuses to start rather than fail every
// message of one purpose later.
func loadCarrier(driver string, str func(k, def string) string) (SMSCarrier, error) {
	var c SMSCarrier
	required := func(name string, into *string) error {
		*into = str(name, "")
		if *into == "" {
			return &Error{name, "", "a non-empty value when RD_SMS_DRIVER=" + driver}
		}
		return nil
	}
	creds := []struct {
		name string
		into *string
	}{{"RD_SMS_ALIYUN_ACCESS_KEY_ID", &c.KeyID}, {"RD_SMS_ALIYUN_ACCESS_KEY_SECRET", &c.Secret}}
	if driver == "tencent" {
		creds = []struct {
			name string
			into *string
		}{{"RD_SMS_TENCENT_SECRET_ID", &c.KeyID}, {"RD_SMS_TENCENT_SECRET_KEY", &c.Secret}, {"RD_SMS_TENCENT_SDK_APP_ID", &c.AppID}}
	}
	for _, v := range creds {
		if err := required(v.name, v.into); err != nil {
			return c, err
		}
	}
	if err := required("RD_SMS_SIGN_NAME", &c.SignName); err != nil {
		return c, err
	}
	c.Region = str("RD_SMS_REGION", "")
	c.Scheme = "https"
	if ep := str("RD_SMS_ENDPOINT", ""); ep != "" {
		host := ep
		if rest, ok := strings.CutPrefix(ep, "http://"); ok {
			c.Scheme, host = "http", rest
		} else {
			host = strings.TrimPrefix(ep, "https://")
		}
		if host == "" || strings.ContainsAny(host, "/?# ") {
			return c, &Error{"RD_SMS_ENDPOINT", ep, "the carrier API's host[:port], optionally after https:// or http://"}
		}
		c.Endpoint = host
	}
	c.Templates = map[vocab.Purpose]string{}
	for _, p := range vocab.Purposes {
		tpl := str(TemplateVar(p), "")
		if tpl == "" {
			return c, &Error{TemplateVar(p), "", fmt.Sprintf("the approved template of %s (%s) when RD_SMS_DRIVER=%s", p, p.Label(), driver)}
		}
		c.Templates[p] = tpl
	}
	return c, nil
}

// Error is a configuration error: which variable, and what it accepts.
type Error struct {
	Var      string
	Value    string
	Accepted string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s=%q is not valid: accepted %s", e.Var, e.Value, e.Accepted)
}

// Getenv is the shape of os.LookupEnv, so tests can pass a map.
type Getenv func(string) (string, bool)

// FromMap adapts a map to Getenv for tests.
func FromMap(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Load reads and validates the configuration. It does no I/O beyond reading
// the environment through get.
func Load(get Getenv) (Config, error) {
	str := func(k, def string) string {
		if v, ok := get(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	var c Config
	var err error
	c.Addr = str("RD_ADDR", "127.0.0.1:8080")
	if _, _, e := net.SplitHostPort(c.Addr); e != nil {
		return c, &Error{"RD_ADDR", c.Addr, "host:port, e.g. 127.0.0.1:8080"}
	}
	c.DataDir = str("RD_DATA_DIR", "./var")
	c.DatabaseURL = str("RD_DATABASE_URL", "sqlite://"+filepath.Join(c.DataDir, "recoverydesk.db"))
	if c.DBKind, c.DSN, err = parseDatabaseURL(c.DatabaseURL); err != nil {
		return c, err
	}
	c.S3Endpoint = str("RD_S3_ENDPOINT", "")
	if c.S3Endpoint != "" {
		if _, _, e := net.SplitHostPort(c.S3Endpoint); e != nil {
			return c, &Error{"RD_S3_ENDPOINT", c.S3Endpoint, "host:port of a MinIO/S3 server, or empty for the bundled local MinIO"}
		}
	}
	c.S3AccessKey = str("RD_S3_ACCESS_KEY", "")
	c.S3SecretKey = str("RD_S3_SECRET_KEY", "")
	if c.S3Endpoint != "" && (c.S3AccessKey == "" || c.S3SecretKey == "") {
		return c, &Error{"RD_S3_ACCESS_KEY", c.S3AccessKey, "non-empty RD_S3_ACCESS_KEY and RD_S3_SECRET_KEY when RD_S3_ENDPOINT is set"}
	}
	c.S3Bucket = str("RD_S3_BUCKET", "recoverydesk-evidence")
	if !validBucket(c.S3Bucket) {
		return c, &Error{"RD_S3_BUCKET", c.S3Bucket, "3-63 characters of a-z, 0-9, '.' and '-'"}
	}
	if c.S3TLS, err = parseBool(get, "RD_S3_TLS"); err != nil {
		return c, err
	}
	if c.S3AllowPlaintext, err = parseBool(get, "RD_S3_ALLOW_PLAINTEXT"); err != nil {
		return c, err
	}
	if v := str("RD_SECRET_KEY", ""); v != "" {
		if len(v) < 32 {
			return c, &Error{"RD_SECRET_KEY", "(hidden)", "at least 32 bytes"}
		}
		c.SecretKey = []byte(v)
	}
	c.SMSDriver = str("RD_SMS_DRIVER", "outbox")
	c.SMSHTTPURL = str("RD_SMS_HTTP_URL", "")
	for _, d := range []struct {
		name string
		into *[]time.Time
	}{{"RD_EXTRA_HOLIDAYS", &c.ExtraHolidays}, {"RD_EXTRA_WORKDAYS", &c.ExtraWorkdays}} {
		v := str(d.name, "")
		if *d.into, err = rules.ParseDateList(v); err != nil {
			return c, &Error{d.name, v, "YYYY-MM-DD dates separated by commas"}
		}
	}
	switch c.SMSDriver {
	case "outbox":
	case "http":
		if !strings.HasPrefix(c.SMSHTTPURL, "http://") && !strings.HasPrefix(c.SMSHTTPURL, "https://") {
			return c, &Error{"RD_SMS_HTTP_URL", c.SMSHTTPURL, "an http:// or https:// URL of the SMS gateway when RD_SMS_DRIVER=http"}
		}
	case "aliyun", "tencent":
		if c.SMSCarrier, err = loadCarrier(c.SMSDriver, str); err != nil {
			return c, err
		}
	default:
		return c, &Error{"RD_SMS_DRIVER", c.SMSDriver, "outbox, http, aliyun or tencent"}
	}
	for _, d := range []struct {
		name, def string
		min       time.Duration
		into      *time.Duration
	}{
		{"RD_SMS_TIMEOUT", "30s", time.Second, &c.SMSTimeout},
		{"RD_SMS_RETRY_FOR", "24h", time.Second, &c.SMSRetryFor},
		{"RD_SMS_BACKOFF_MAX", "10m", time.Second, &c.SMSBackoffMax},
		{"RD_JOB_RESCUE_AFTER", "2m", 5 * time.Second, &c.JobRescueAfter},
		{"RD_SHUTDOWN_GRACE", "10s", 0, &c.ShutdownGrace},
		{"RD_S3_TIMEOUT", "10s", 100 * time.Millisecond, &c.S3Timeout},
		{"RD_EVIDENCE_RETENTION", "180d", time.Second, &c.EvidenceRetention},
	} {
		v := str(d.name, d.def)
		if *d.into, err = ParseDuration(v); err != nil || *d.into < d.min {
			return c, &Error{d.name, v, fmt.Sprintf("a duration of at least %s such as 90s, 10m, 24h or 7d", d.min)}
		}
	}
	if c.JobRescueAfter <= c.SMSTimeout+SMSTrySlack {
		return c, &Error{"RD_JOB_RESCUE_AFTER", str("RD_JOB_RESCUE_AFTER", "2m"),
			fmt.Sprintf("a duration longer than RD_SMS_TIMEOUT plus %s (a delivery still talking to the gateway must not run twice)", SMSTrySlack)}
	}
	hc := str("RD_HASH_CONCURRENCY", strconv.Itoa(runtime.NumCPU()))
	if c.HashConcurrency, err = strconv.Atoi(hc); err != nil || c.HashConcurrency < 1 || c.HashConcurrency > 1024 {
		return c, &Error{"RD_HASH_CONCURRENCY", hc, "a whole number from 1 to 1024 (argon2id computations at once, 64 MiB each)"}
	}
	tp := str("RD_TRUSTED_PROXIES", "")
	if c.TrustedProxies, err = ParsePrefixes(tp); err != nil {
		return c, &Error{"RD_TRUSTED_PROXIES", tp, "IP addresses or CIDRs separated by commas, e.g. 10.0.0.0/8,192.168.1.10"}
	}
	c.MetricsToken = str("RD_METRICS_TOKEN", "")
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return c, &Error{"RD_METRICS_TOKEN", "(hidden)", "at least 16 characters, or empty"}
	}
	qa := str("RD_QA_SAMPLE_PERCENT", "10")
	if c.QASamplePercent, err = strconv.Atoi(qa); err != nil || c.QASamplePercent < 0 || c.QASamplePercent > 100 {
		return c, &Error{"RD_QA_SAMPLE_PERCENT", qa, "a whole number from 0 to 100"}
	}
	hl := str("RD_HOTLINE", defaultHotline)
	if c.Hotline, err = ParseHotline(hl); err != nil {
		return c, &Error{"RD_HOTLINE", hl, "the number as shown, optionally followed by | and a dialable number with area code, such as 12333|+862012333"}
	}
	if c.Dev, err = parseBool(get, "RD_DEV"); err != nil {
		return c, err
	}
	if c.DevForce, err = parseBool(get, "RD_DEV_FORCE"); err != nil {
		return c, err
	}
	if c.Dev && c.DBKind == Postgres && !c.DevForce {
		return c, &Error{"RD_DEV", "1", "0 with a postgres:// database (dev mode moves the clock and exposes SMS texts); set RD_DEV_FORCE=1 to insist"}
	}
	return c, nil
}

// ParsePrefixes reads a comma-separated list of CIDRs or single addresses
// (a single address is its own /32 or /128).
func ParsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.Contains(part, "/") {
			p, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, err
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func parseDatabaseURL(u string) (DBKind, string, error) {
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		path := strings.TrimPrefix(u, "sqlite://")
		if path == "" {
			break
		}
		return SQLite, SQLiteDSN(path), nil
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return Postgres, u, nil
	}
	return "", "", &Error{"RD_DATABASE_URL", u, "sqlite://PATH or postgres://USER@HOST:PORT/DB"}
}

// SQLiteDSN is the modernc.org/sqlite DSN for a database file, with the
// pragmas every connection needs: enforced foreign keys, WAL so readers do not
// block the writer, a busy timeout instead of immediate SQLITE_BUSY, write
// transactions that take the lock up front, and every time written in UTC in
// one sortable format (SQLite compares times as text, so mixed zones or
// formats would sort wrong).
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite&_timezone=UTC"
}

// ParseDuration reads a duration as Go writes it ("90s", "10m", "24h") or a
// whole number of days ("180d"), the units operators use for retention.
func ParseDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return 0, fmt.Errorf("bad number of days %q", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return d, nil
}

func parseBool(get Getenv, k string) (bool, error) {
	v, ok := get(k)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &Error{k, v, "1/0 or true/false"}
	}
	return b, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// EnsureSecret fills c.SecretKey from $RD_DATA_DIR/secret, generating that
// file (0600, 32 random bytes hex-encoded) on first use, so a dev install gets
// a stable key without any set-up.
func (c *Config) EnsureSecret() error {
	if len(c.SecretKey) > 0 {
		return nil
	}
	path := filepath.Join(c.DataDir, "secret")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return fmt.Errorf("%s holds fewer than 32 bytes; delete it to generate a new key", path)
		}
		c.SecretKey = []byte(key)
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read secret: %w", err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	key := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	c.SecretKey = []byte(key)
	return nil
}
