package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/staff"
	"recoverydesk/internal/vocab"
)

// runStaffAdd creates a staff user with one role in one region, in one
// transaction with its role grant and its audit entry.
func runStaffAdd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("staff add", "staff add --username U --name N --role R [--region CODE] [--password-stdin]\n\n"+
		"Creates a staff user. Roles: reviewer, supervisor, admin. The region is a GB/T 2260 prefix:\n"+
		"44 = all of Guangdong, 4407 = 江门市, 440703 = 蓬江区. Without --password-stdin a compliant\n"+
		"password is generated and printed once.", stderr)
	username := fs.String("username", "", "sign-in name: 5-20 letters, digits or _, starting with a letter")
	name := fs.String("name", "", "the person's name as shown in the console and the audit log")
	role := fs.String("role", "", "reviewer, supervisor or admin")
	region := fs.String("region", "44", "region code prefix the role covers")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if problems := validateStaffInput(*username, *name, *role, *region); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "recoverydesk staff add:", p)
		}
		return exitCode(2)
	}
	password, generated, err := staffPassword(*fromStdin, stdin, *username)
	if err != nil {
		fmt.Fprintln(stderr, "recoverydesk staff add:", err)
		return exitCode(2)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	hash, err := passhash.Hasher{Params: passhash.Production}.Hash(password)
	if err != nil {
		return err
	}
	ctx := context.Background()
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	err = createStaff(ctx, d, newStaff{*username, *name, *role, *region, hash})
	if errors.Is(err, errStaffExists) {
		fmt.Fprintf(stderr, "recoverydesk staff add: a staff user named %q already exists\n", *username)
		return exitCode(1)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created staff user %s (%s) as %s for %s [%s]\n", *username, *name, *role, rules.RegionFullName(*region), *region)
	if generated {
		fmt.Fprintf(stdout, "password (shown once, store it safely): %s\n", password)
	}
	return nil
}

var errStaffExists = errors.New("staff user exists")

// validateStaffInput lists the problems of the flags, by the rules the
// console's form uses (staff.CheckNew).
func validateStaffInput(username, name, role, region string) []string {
	var problems []string
	for _, p := range staff.CheckNew(staff.NewStaff{Username: username, Name: name, Role: role, Region: region}) {
		problems = append(problems, "--"+p.Field+": "+p.Message)
	}
	return problems
}

// staffPassword reads the password from stdin, or generates one.
func staffPassword(fromStdin bool, stdin io.Reader, username string) (pw string, generated bool, err error) {
	if !fromStdin {
		pw, err = rules.GeneratePasswordFor(username)
		return pw, true, err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	pw = strings.TrimRight(line, "\r\n")
	if v := rules.CheckPassword(pw, username); len(v) > 0 {
		msgs := make([]string, len(v))
		for i, x := range v {
			msgs[i] = x.Message
		}
		return "", false, fmt.Errorf("password refused: %s", strings.Join(msgs, "；"))
	}
	return pw, false, nil
}

// newStaff is a staff user to create with one role grant.
type newStaff struct {
	username, name, role, region, passwordHash string
}

// createStaff creates a staff user, its role grant and its audit entry in
// one transaction (staff add and seed --demo), through staff.Create.
func createStaff(ctx context.Context, d *db.DB, n newStaff) error {
	err := staff.Create(ctx, d, staff.Creator{Kind: audit.ActorSystem, Actor: string(vocab.SystemCLI)},
		staff.NewStaff{Username: n.username, Name: n.name, Role: n.role, Region: n.region}, n.passwordHash)
	if errors.Is(err, staff.ErrUsernameTaken) {
		return errStaffExists
	}
	return err
}
