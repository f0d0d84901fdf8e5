package main

import (
	"strings"
	"testing"

	"recoverydesk/ent/account"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
)

func TestRekeyMovesTheNumbersToTheNewKey(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := strings.Repeat("a", 40), strings.Repeat("b", 40)
	cfg, err := config.Load(config.FromMap(map[string]string{"RD_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	open := func(key string) *db.DB {
		d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := secret.New([]byte(key))
		d.SealWith(keys)
		if err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := open(keyA)
	if err := d.Ent.Account.Create().SetKind("person").SetUsername("zhang_san").SetUsernameKey("zhang_san").SetPasswordHash("x").
		SetName("张三").SetCertType("id_card").SetCertNumber("440703199001011239").SetPhone("13800001234").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	d.Close()

	env := []string{"RD_DATA_DIR=" + dir, "RD_SECRET_KEY=" + keyB, "RD_SECRET_KEY_PREVIOUS=" + keyA}
	if code, stdout, stderr := recoverydesk(t, env, "", "rekey"); code != 0 || !strings.Contains(stdout, "1 rows re-sealed") {
		t.Fatalf("rekey during the rotation: exit %d %q %q", code, stdout, stderr)
	}
	// The previous key dropped: the new one opens everything; the old one nothing.
	if code, _, stderr := recoverydesk(t, []string{"RD_DATA_DIR=" + dir, "RD_SECRET_KEY=" + keyB}, "", "rekey"); code != 0 {
		t.Fatalf("rekey under the new key alone: exit %d %q", code, stderr)
	}
	if code, _, stderr := recoverydesk(t, []string{"RD_DATA_DIR=" + dir, "RD_SECRET_KEY=" + keyA}, "", "rekey"); code != 1 || !strings.Contains(stderr, "cannot be opened") {
		t.Fatalf("rekey under the old key after the rotation: exit %d %q", code, stderr)
	}
	if code, _, stderr := recoverydesk(t, []string{"RD_DATA_DIR=" + dir, "RD_SECRET_KEY_PREVIOUS=short"}, "", "rekey"); code != 2 || !strings.Contains(stderr, "RD_SECRET_KEY_PREVIOUS") {
		t.Fatalf("a short previous key: exit %d %q", code, stderr)
	}
	d = open(keyB)
	defer d.Close()
	acc, err := d.Ent.Account.Query().Where(account.CertHmacIn(d.Lookups("440703199001011239")...)).Only(ctx)
	if err != nil || acc.Phone != "13800001234" {
		t.Fatalf("the account under the new key: %v", err)
	}
}
