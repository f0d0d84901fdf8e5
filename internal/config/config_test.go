package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/vocab"
)

func TestDefaults(t *testing.T) {
	c, err := Load(FromMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./var" || c.S3Bucket != "recoverydesk-evidence" ||
		c.SMSDriver != "outbox" || c.Dev || c.S3TLS || c.DBKind != SQLite {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.SMSTimeout != 30*time.Second || c.SMSRetryFor != 24*time.Hour || c.SMSBackoffMax != 10*time.Minute ||
		c.JobRescueAfter != 2*time.Minute || c.ShutdownGrace != 10*time.Second {
		t.Fatalf("unexpected reliability defaults: %+v", c)
	}
	if c.DatabaseURL != "sqlite://var/recoverydesk.db" {
		t.Fatalf("default database URL = %q", c.DatabaseURL)
	}
	if c.S3Timeout != 10*time.Second {
		t.Fatalf("default RD_S3_TIMEOUT = %v, want 10s", c.S3Timeout)
	}
	if c, err := Load(FromMap(map[string]string{"RD_S3_TIMEOUT": "2500ms"})); err != nil || c.S3Timeout != 2500*time.Millisecond {
		t.Fatalf("RD_S3_TIMEOUT=2500ms: %v, %v", c.S3Timeout, err)
	}
	if c.EvidenceRetention != 180*24*time.Hour || c.S3AllowPlaintext {
		t.Fatalf("default RD_EVIDENCE_RETENTION = %v, RD_S3_ALLOW_PLAINTEXT = %t; want 180 days, false", c.EvidenceRetention, c.S3AllowPlaintext)
	}
	if c, err := Load(FromMap(map[string]string{"RD_EVIDENCE_RETENTION": "1d", "RD_S3_ALLOW_PLAINTEXT": "1"})); err != nil ||
		c.EvidenceRetention != 24*time.Hour || !c.S3AllowPlaintext {
		t.Fatalf("RD_EVIDENCE_RETENTION=1d, RD_S3_ALLOW_PLAINTEXT=1: %v, %t, %v", c.EvidenceRetention, c.S3AllowPlaintext, err)
	}
}

func TestRejectsBadValues(t *testing.T) {
	cases := []struct {
		env     map[string]string
		wantVar string
	}{
		{map[string]string{"RD_DATABASE_URL": "mysql://x"}, "RD_DATABASE_URL"},
		{map[string]string{"RD_DATABASE_URL": "sqlite://"}, "RD_DATABASE_URL"},
		{map[string]string{"RD_ADDR": "8080"}, "RD_ADDR"},
		{map[string]string{"RD_S3_TLS": "maybe"}, "RD_S3_TLS"},
		{map[string]string{"RD_SMS_DRIVER": "carrier-pigeon"}, "RD_SMS_DRIVER"},
		{map[string]string{"RD_SMS_DRIVER": "http"}, "RD_SMS_HTTP_URL"},
		{map[string]string{"RD_SECRET_KEY": "short"}, "RD_SECRET_KEY"},
		{map[string]string{"RD_S3_ENDPOINT": "minio:9000"}, "RD_S3_ACCESS_KEY"},
		{map[string]string{"RD_S3_BUCKET": "Bad_Bucket"}, "RD_S3_BUCKET"},
		{map[string]string{"RD_EXTRA_HOLIDAYS": "2026-10-09, 10/10/2026"}, "RD_EXTRA_HOLIDAYS"},
		{map[string]string{"RD_EXTRA_WORKDAYS": "2026-13-01"}, "RD_EXTRA_WORKDAYS"},
		{map[string]string{"RD_SMS_TIMEOUT": "soon"}, "RD_SMS_TIMEOUT"},
		{map[string]string{"RD_SMS_TIMEOUT": "10ms"}, "RD_SMS_TIMEOUT"},
		{map[string]string{"RD_SMS_RETRY_FOR": "-1h"}, "RD_SMS_RETRY_FOR"},
		{map[string]string{"RD_JOB_RESCUE_AFTER": "1s"}, "RD_JOB_RESCUE_AFTER"},
		{map[string]string{"RD_SMS_TIMEOUT": "3m"}, "RD_JOB_RESCUE_AFTER"},
		{map[string]string{"RD_SMS_TIMEOUT": "5s", "RD_JOB_RESCUE_AFTER": "15s"}, "RD_JOB_RESCUE_AFTER"},
		{map[string]string{"RD_SHUTDOWN_GRACE": "later"}, "RD_SHUTDOWN_GRACE"},
		{map[string]string{"RD_DEV": "1", "RD_DATABASE_URL": "postgres://u@h/db"}, "RD_DEV"},
		{map[string]string{"RD_QA_SAMPLE_PERCENT": "101"}, "RD_QA_SAMPLE_PERCENT"},
		{map[string]string{"RD_QA_SAMPLE_PERCENT": "ten"}, "RD_QA_SAMPLE_PERCENT"},
		{map[string]string{"RD_S3_TIMEOUT": "10"}, "RD_S3_TIMEOUT"},
		{map[string]string{"RD_S3_TIMEOUT": "0s"}, "RD_S3_TIMEOUT"},
		{map[string]string{"RD_EVIDENCE_RETENTION": "180"}, "RD_EVIDENCE_RETENTION"},
		{map[string]string{"RD_S3_TIMEOUT": "-5s"}, "RD_S3_TIMEOUT"},
		{map[string]string{"RD_HASH_CONCURRENCY": "0"}, "RD_HASH_CONCURRENCY"},
		{map[string]string{"RD_HASH_CONCURRENCY": "two"}, "RD_HASH_CONCURRENCY"},
		{map[string]string{"RD_TRUSTED_PROXIES": "10.0.0.0/8, proxy.intranet"}, "RD_TRUSTED_PROXIES"},
		{map[string]string{"RD_TRUSTED_PROXIES": "10.0.0.0/33"}, "RD_TRUSTED_PROXIES"},
		{map[string]string{"RD_METRICS_TOKEN": "short"}, "RD_METRICS_TOKEN"},
	}
	for _, tc := range cases {
		_, err := Load(FromMap(tc.env))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.wantVar {
			t.Errorf("%v: got %v, want an error naming %s", tc.env, err, tc.wantVar)
			continue
		}
		if strings.Contains(ce.Error(), "\n") || !strings.Contains(ce.Error(), "accepted") {
			t.Errorf("message should be one line saying what is accepted: %q", ce.Error())
		}
	}
}

func TestSecretKeyNeverInMessage(t *testing.T) {
	_, err := Load(FromMap(map[string]string{"RD_SECRET_KEY": "tooshort-but-secret"}))
	if err == nil || strings.Contains(err.Error(), "tooshort-but-secret") {
		t.Fatalf("the secret must not appear in the error: %v", err)
	}
}

func TestDevWithPostgresNeedsForce(t *testing.T) {
	c, err := Load(FromMap(map[string]string{"RD_DEV": "1", "RD_DEV_FORCE": "1", "RD_DATABASE_URL": "postgres://u@h/db"}))
	if err != nil || !c.Dev || c.DBKind != Postgres {
		t.Fatalf("forced dev on postgres: %+v %v", c, err)
	}
}

func TestEnsureSecretGeneratesOnceAndKeeps(t *testing.T) {
	dir := t.TempDir()
	c := Config{DataDir: dir}
	if err := c.EnsureSecret(); err != nil {
		t.Fatal(err)
	}
	first := string(c.SecretKey)
	if len(first) < 32 {
		t.Fatalf("generated key too short: %d", len(first))
	}
	st, err := os.Stat(filepath.Join(dir, "secret"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", st, err)
	}
	c2 := Config{DataDir: dir}
	if err := c2.EnsureSecret(); err != nil || string(c2.SecretKey) != first {
		t.Fatalf("second load should read the same key: %v", err)
	}
}

func TestCalendarOverrides(t *testing.T) {
	c, err := Load(FromMap(map[string]string{"RD_EXTRA_HOLIDAYS": "2026-10-09, 2026-10-12", "RD_EXTRA_WORKDAYS": "2026-10-10"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ExtraHolidays) != 2 || c.ExtraHolidays[1].Format("2006-01-02") != "2026-10-12" ||
		len(c.ExtraWorkdays) != 1 || c.ExtraWorkdays[0].Format("2006-01-02") != "2026-10-10" {
		t.Fatalf("overrides %v %v", c.ExtraHolidays, c.ExtraWorkdays)
	}
}

func TestQASampleShare(t *testing.T) {
	if c, err := Load(FromMap(nil)); err != nil || c.QASamplePercent != 10 {
		t.Fatalf("default: %d %v", c.QASamplePercent, err)
	}
	if c, err := Load(FromMap(map[string]string{"RD_QA_SAMPLE_PERCENT": "25"})); err != nil || c.QASamplePercent != 25 {
		t.Fatalf("25: %d %v", c.QASamplePercent, err)
	}
}

func TestParseDurationTakesDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"180d": 180 * 24 * time.Hour, "90s": 90 * time.Second, "2m": 2 * time.Minute, "0s": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-3d", "1.5d", "10", "-1s"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestHashConcurrencyProxiesAndMetricsToken(t *testing.T) {
	c, err := Load(FromMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HashConcurrency != runtime.NumCPU() || len(c.TrustedProxies) != 0 || c.MetricsToken != "" {
		t.Fatalf("defaults: %d hashes (cores %d), proxies %v, token %q", c.HashConcurrency, runtime.NumCPU(), c.TrustedProxies, c.MetricsToken)
	}
	c, err = Load(FromMap(map[string]string{"RD_HASH_CONCURRENCY": "3", "RD_TRUSTED_PROXIES": " 10.1.2.0/24 , 192.168.1.10,::1",
		"RD_METRICS_TOKEN": "0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.1.2.0/24", "192.168.1.10/32", "::1/128"}
	if c.HashConcurrency != 3 || len(c.TrustedProxies) != len(want) || c.MetricsToken != "0123456789abcdef" {
		t.Fatalf("got %d, %v, %q", c.HashConcurrency, c.TrustedProxies, c.MetricsToken)
	}
	for i, p := range c.TrustedProxies {
		if p.String() != want[i] {
			t.Errorf("proxy %d = %s, want %s", i, p, want[i])
		}
	}
}

func TestHotlineTextAndTelNumber(t *testing.T) {
	for env, want := range map[string]Hotline{
		"":                             {Text: "3873738", Tel: "+867503873738"},
		"12333":                        {Text: "12333", Tel: "12333"},
		"020-12333|+862012333":         {Text: "020-12333", Tel: "+862012333"},
		" 0750-3873738 | 0750-3873738": {Text: "0750-3873738", Tel: "0750-3873738"},
	} {
		m := map[string]string{}
		if env != "" {
			m["RD_HOTLINE"] = env
		}
		c, err := Load(FromMap(m))
		if err != nil || c.Hotline != want {
			t.Errorf("RD_HOTLINE=%q: %+v %v, want %+v", env, c.Hotline, err, want)
		}
	}
	for _, bad := range []string{"|12333", "12333|javascript:alert(1)", "<b>12333</b>", "12333|12", "热线"} {
		_, err := Load(FromMap(map[string]string{"RD_HOTLINE": bad}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != "RD_HOTLINE" {
			t.Errorf("RD_HOTLINE=%q: %v, want an error naming RD_HOTLINE", bad, err)
		}
	}
}

// carrierEnv is a complete carrier configuration for driver.
func carrierEnv(driver string) map[string]string {
	env := map[string]string{"RD_SMS_DRIVER": driver, "RD_SMS_SIGN_NAME": "广东人社",
		"RD_SMS_ALIYUN_ACCESS_KEY_ID": "LTAIexample", "RD_SMS_ALIYUN_ACCESS_KEY_SECRET": "aliyun-secret",
		"RD_SMS_TENCENT_SECRET_ID": "AKIDexample", "RD_SMS_TENCENT_SECRET_KEY": "tencent-secret", "RD_SMS_TENCENT_SDK_APP_ID": "1400000001"}
	for _, p := range vocab.Purposes {
		env[TemplateVar(p)] = "SMS_" + strings.ToUpper(string(p))
	}
	return env
}

// TestCarrierDriversNeedATemplateForEveryPurpose: a carrier configuration
// loads whole; without the template of any one purpose, or without a
// credential or the signature, Load names that variable (serve then exits
// 2 with that one line) and never prints a secret.
func TestCarrierDriversNeedATemplateForEveryPurpose(t *testing.T) {
	for _, driver := range []string{"aliyun", "tencent"} {
		env := carrierEnv(driver)
		env["RD_SMS_ENDPOINT"] = "http://127.0.0.1:9999"
		c, err := Load(FromMap(env))
		if err != nil {
			t.Fatalf("%s: %v", driver, err)
		}
		if c.SMSCarrier.Templates[vocab.PurposeRecoveryCode] != "SMS_RECOVERY_CODE" || c.SMSCarrier.Endpoint != "127.0.0.1:9999" ||
			c.SMSCarrier.Scheme != "http" || c.SMSCarrier.SignName != "广东人社" || len(c.SMSCarrier.Templates) != len(vocab.Purposes) {
			t.Fatalf("%s: %+v", driver, c.SMSCarrier)
		}
		missing := []string{"RD_SMS_SIGN_NAME"}
		for _, p := range vocab.Purposes {
			missing = append(missing, TemplateVar(p))
		}
		if driver == "aliyun" {
			missing = append(missing, "RD_SMS_ALIYUN_ACCESS_KEY_ID", "RD_SMS_ALIYUN_ACCESS_KEY_SECRET")
		} else {
			missing = append(missing, "RD_SMS_TENCENT_SECRET_ID", "RD_SMS_TENCENT_SECRET_KEY", "RD_SMS_TENCENT_SDK_APP_ID")
		}
		for _, name := range missing {
			env := carrierEnv(driver)
			delete(env, name)
			_, err := Load(FromMap(env))
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != name || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s without %s: %v", driver, name, err)
			}
		}
	}
	if got := TemplateVar(vocab.PurposePasswordCancelled); got != "RD_SMS_TEMPLATE_PASSWORD_CANCELLED" {
		t.Errorf("TemplateVar = %s", got)
	}
}
