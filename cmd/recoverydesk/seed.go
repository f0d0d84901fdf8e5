package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
)

// demoPassword is every demo account's password, printed with the logins.
const demoPassword = "Demo#2468go"

// demoPerson is one demo operator and, when unitName is set, the unit they run.
type demoPerson struct {
	username, name, idBody, phone    string
	unitUser, unitName, uscc, region string
}

// demoPeople spread over several Guangdong cities. The ID numbers and credit
// codes are made up but carry correct check characters.
var demoPeople = []demoPerson{
	{"zhang_wei", "张伟", "44070319880312201", "13800138001", "jm_rencai", "江门市人才发展服务有限公司", "91440703MA4UDEM01", "440703"},
	{"li_na", "李娜", "44010619900615302", "13800138002", "gz_keji", "广州市天河区科技创新服务中心", "12440106MB2CDEM02", "440106"},
	{"wang_fang", "王芳", "44030419920820403", "13800138003", "sz_zhizao", "深圳市福田区智能制造有限公司", "91440304MA5FDEM03", "440304"},
	{"chen_jie", "陈杰", "44190019870105104", "13800138004", "dg_wuliu", "东莞市物流供应链有限公司", "91441900MA51DEM04", "4419"},
	{"liu_yang", "刘洋", "44060419950228505", "13800138005", "fs_taoci", "佛山市禅城区陶瓷贸易有限公司", "91440604MA4WDEM05", "440604"},
	{"huang_min", "黄敏", "44050719891111606", "13800138006", "", "", "", ""},
}

func runSeed(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("seed", "seed --demo\n\nFills an empty database with demo accounts and prints their logins.", stderr)
	demo := fs.Bool("demo", false, "create the demo data (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*demo {
		fs.Usage()
		return exitCode(2)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.EnsureSecret(); err != nil {
		return err
	}
	ctx := context.Background()
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if n, err := d.Ent.Account.Query().Count(ctx); err != nil {
		return err
	} else if n > 0 {
		return errors.New("the database already holds accounts; seed --demo only fills an empty one")
	}
	svc, err := seedAccountsService(d, cfg.SecretKey)
	if err != nil {
		return err
	}
	// Hashed once: every demo account and staff user shares the password.
	hash, err := passhash.Hasher{Params: passhash.Production}.Hash(demoPassword)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Demo accounts (password for all: %s)\n\n", demoPassword)
	fmt.Fprintf(stdout, "%-6s %-12s %-30s %s\n", "kind", "username", "name", "region")
	for _, p := range demoPeople {
		if err := seedPerson(ctx, svc, p, stdout); err != nil {
			return err
		}
	}
	if err := seedStaff(ctx, d, hash, stdout); err != nil {
		return err
	}
	return seedHistory(ctx, cfg, d, hash, stdout)
}

// demoHistory is how many cases seed --demo adds, over demoMonths months,
// and how many of them get evidence images in the object store.
const (
	demoHistory       = 3000
	demoMonths        = 4
	demoEvidenceCases = 400
)

// seedHistory adds a realistic history for the dashboard, the audit page and
// the queue: cases across the cities over the last months, decided by the
// demo reviewers and a team of two reviewers per other city (same password,
// not printed), with audit entries, QA reviews and evidence images.
func seedHistory(ctx context.Context, cfg config.Config, d *db.DB, hash string, stdout io.Writer) error {
	reviewers, err := demodata.LoadStaff(ctx, d, "4407", "jm_reviewer")
	if err != nil {
		return err
	}
	gz, err := demodata.LoadStaff(ctx, d, "4401", "gz_reviewer")
	if err != nil {
		return err
	}
	sups, err := demodata.LoadStaff(ctx, d, rules.ProvinceCode, "gd_super")
	if err != nil {
		return err
	}
	team, err := demodata.CreateTeam(ctx, d, hash, demodata.Team{Reviewers: append(reviewers, gz...), Supervisors: sups}, 2)
	if err != nil {
		return err
	}
	st, err := demodata.Generate(ctx, d, demodata.Options{Cases: demoHistory, Months: demoMonths, Seed: uint64(time.Now().UnixNano()),
		Team: team, PasswordHash: hash, QASamplePercent: cfg.QASamplePercent})
	if err != nil {
		return fmt.Errorf("demo history: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, stop, err := openEvidenceStore(ctx, cfg, logger, true)
	if err != nil {
		return err
	}
	defer stop()
	withImages, err := demodata.SeedEvidence(ctx, d, store, demoEvidenceCases)
	if err != nil {
		return fmt.Errorf("demo evidence: %w", err)
	}
	fmt.Fprintf(stdout, "\nHistory: %d cases over the last %d months by %d reviewers and %d supervisor(s)\n", st.Cases, demoMonths,
		len(team.Reviewers), len(team.Supervisors))
	for _, s := range state.All {
		fmt.Fprintf(stdout, "  %-16s %d\n", s, st.ByStatus[s])
	}
	fmt.Fprintf(stdout, "%d generated accounts (password %s), %d audit entries, %d QA reviews, evidence images for %d cases\n",
		st.Accounts, demoPassword, st.Audits, st.QAReviews, withImages)
	return nil
}

// demoStaff are the console's demo users: reviewers of two cities, a
// province-wide supervisor and an administrator.
var demoStaff = []newStaff{
	{username: "jm_reviewer", name: "李审核", role: "reviewer", region: "4407"},
	{username: "gz_reviewer", name: "赵审核", role: "reviewer", region: "4401"},
	{username: "gd_super", name: "王主管", role: "supervisor", region: "44"},
	{username: "gd_admin", name: "陈管理", role: "admin", region: "44"},
}

func seedStaff(ctx context.Context, d *db.DB, hash string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "\nConsole staff at /console/login (same password)\n\n")
	for _, st := range demoStaff {
		st.passwordHash = hash
		if err := createStaff(ctx, d, st); err != nil {
			return fmt.Errorf("demo staff %s: %w", st.username, err)
		}
		fmt.Fprintf(stdout, "%-10s %-12s %-8s %s\n", st.role, st.username, st.name, rules.RegionFullName(st.region))
	}
	return nil
}

func seedPerson(ctx context.Context, svc *accounts.Service, p demoPerson, stdout io.Writer) error {
	id := rules.CompleteIDNumber(p.idBody)
	op, err := svc.CreateVerifiedPerson(ctx, accounts.PersonRegistration{Username: p.username, Password: demoPassword,
		Name: p.name, IDNumber: id, Phone: p.phone})
	if err != nil {
		return fmt.Errorf("demo person %s: %w", p.username, err)
	}
	fmt.Fprintf(stdout, "%-6s %-12s %-30s %s\n", "person", p.username, p.name, rules.RegionFullName(op.RegionCode))
	if p.unitUser == "" {
		return nil
	}
	form, err := svc.CheckUnitForm(accounts.UnitRegistration{CertType: string(rules.CertUSCC), CertNumber: rules.CompleteUSCC(p.uscc),
		UnitName: p.unitName, RegionCode: p.region, Username: p.unitUser, Password: demoPassword})
	if err != nil {
		return fmt.Errorf("demo unit %s: %w", p.unitUser, err)
	}
	if _, err := svc.CreateUnit(ctx, op, form); err != nil {
		return fmt.Errorf("demo unit %s: %w", p.unitUser, err)
	}
	fmt.Fprintf(stdout, "%-6s %-12s %-30s %s\n", "unit", p.unitUser, p.unitName, rules.RegionFullName(p.region))
	return nil
}

// seedAccountsService builds the accounts service as serve does, with the
// production hash parameters so demo logins behave exactly like real ones.
func seedAccountsService(d *db.DB, key []byte) (*accounts.Service, error) {
	keys, err := secret.New(key)
	if err != nil {
		return nil, err
	}
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clock.Real{}, Hasher: passhash.Hasher{Params: passhash.Production}})
	if err != nil {
		return nil, err
	}
	return svc.Accounts, nil
}
