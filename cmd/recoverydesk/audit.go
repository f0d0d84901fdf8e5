package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
)

const auditUsage = "Usage: recoverydesk audit verify | recoverydesk audit anchor"

func runAudit(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runAuditVerify(args[1:], stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "anchor" {
		return runAuditAnchor(args[1:], stdin, stdout, stderr)
	}
	fmt.Fprintln(stderr, auditUsage)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return nil
	}
	return exitCode(2)
}

// runAuditVerify checks the audit log's hash chain, then the chain against
// the anchors kept outside the database: exit 0 when both hold, 1 naming
// the first broken entry or the anchor a rebuilt chain contradicts.
func runAuditVerify(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return onDatabase("audit verify", "audit verify\n\nVerifies the hash chain of the audit log in the database named by RD_DATABASE_URL, then checks it\nagainst every anchor in the anchor bucket (<RD_S3_BUCKET>-anchors, object lock): a chain rewritten\nand re-hashed after an anchor no longer matches it.\nExit 0 when intact; exit 1 naming the first broken entry or the contradicted anchor.", args, stderr, func(ctx context.Context, cfg config.Config, d *db.DB) error {
		rep, err := audit.Verify(ctx, d)
		if err != nil {
			return err
		}
		if !rep.Intact {
			fmt.Fprintf(stdout, "审计日志已被篡改：校验到第一处损坏于 %s\n", rep.FirstBroken)
			fmt.Fprintf(stdout, "audit log BROKEN at seq %d (id %d)\n", rep.FirstBroken.Seq, rep.FirstBroken.ID)
			return exitCode(1)
		}
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		anchors, stop, err := openAnchorStore(ctx, cfg, logger)
		if err != nil {
			fmt.Fprintf(stdout, "哈希链完整（%d 条），但无法读取锚点，未能完成校验：%v\n", rep.Checked, err)
			return exitCode(1)
		}
		defer stop()
		ar, err := audit.VerifyAnchors(ctx, d, anchors)
		if err != nil {
			fmt.Fprintf(stdout, "哈希链完整（%d 条），但读取锚点失败，未能完成校验：%v\n", rep.Checked, err)
			return exitCode(1)
		}
		if ar.Contradicted != nil {
			fmt.Fprintf(stdout, "审计日志已被改写：与%s不符——%s\n", ar.Contradicted, ar.Reason)
			fmt.Fprintf(stdout, "audit log REBUILT after anchor %s (seq %d)\n", ar.Contradicted.Key, ar.Contradicted.Seq)
			return exitCode(1)
		}
		fmt.Fprintf(stdout, "审计日志完整：共 %d 条记录，哈希链校验通过，与 %d 个锚点一致\n", rep.Checked, ar.Anchors)
		fmt.Fprintf(stdout, "audit log intact: %d entries, %d anchors\n", rep.Checked, ar.Anchors)
		return nil
	})
}

// runAuditAnchor writes the chain's head to the anchor bucket now (the
// hourly job does the same).
func runAuditAnchor(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return onDatabase("audit anchor", "audit anchor\n\nWrites the audit chain's head (seq, hash, time) to the anchor bucket (<RD_S3_BUCKET>-anchors), as one\nobject under object lock in compliance mode (kept one year; nobody can delete or overwrite it).\nserve does this every hour.", args, stderr, func(ctx context.Context, cfg config.Config, d *db.DB) error {
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		anchors, stop, err := openAnchorStore(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer stop()
		a, err := audit.WriteAnchor(ctx, d, anchors, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已写入锚点 %s：第 %d 条，哈希 %s（锁定至 %s）\n", a.Key, a.Seq, a.Hash,
			a.AnchoredAt.Add(audit.AnchorRetention).In(rules.Shanghai).Format("2006-01-02"))
		fmt.Fprintf(stdout, "anchored seq %d as %s/%s\n", a.Seq, anchors.Bucket(), a.Key)
		return nil
	})
}
