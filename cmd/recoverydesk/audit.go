package main

import (
	"context"
	"fmt"
	"io"

	"recoverydesk/internal/audit"
)

const auditUsage = "Usage: recoverydesk audit verify"

func runAudit(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, auditUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return exitCode(2)
	}
	return runAuditVerify(args[1:], stdin, stdout, stderr)
}

// runAuditVerify checks the audit log's hash chain: exit 0 when intact, 1
// with the first broken entry printed.
func runAuditVerify(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", "audit verify\n\nVerifies the hash chain of the audit log in the database named by RD_DATABASE_URL.\nExit 0 when intact; exit 1 naming the first broken entry.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx := context.Background()
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := audit.Verify(ctx, d)
	if err != nil {
		return err
	}
	if !rep.Intact {
		fmt.Fprintf(stdout, "审计日志已被篡改：校验到第一处损坏于 %s\n", rep.FirstBroken)
		fmt.Fprintf(stdout, "audit log BROKEN at seq %d (id %d)\n", rep.FirstBroken.Seq, rep.FirstBroken.ID)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "审计日志完整：共 %d 条记录，哈希链校验通过\n", rep.Checked)
	fmt.Fprintf(stdout, "audit log intact: %d entries\n", rep.Checked)
	return nil
}
