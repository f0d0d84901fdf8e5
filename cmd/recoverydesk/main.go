// Command recoverydesk runs the password-recovery back office of the
// Guangdong HRSS unified authentication system. This package only parses the
// subcommand and wires dependencies; the rules live in internal/.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"recoverydesk/internal/config"
)

// exitCode carries a process exit status through an error.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the web server, the console, the JSON API and the background workers", runServe},
		{"migrate", "bring the database schema up to date and exit", runMigrate},
		{"staff", "manage staff users (staff add …)", runStaff},
		{"audit", "verify the audit log's hash chain against its anchors (audit verify), write an anchor (audit anchor)", runAudit},
		{"rekey", "re-seal every sealed value under RD_SECRET_KEY after a key rotation", runRekey},
		{"purge", "destroy evidence past RD_EVIDENCE_RETENTION now (purge [--dry-run])", runPurge},
		{"seed", "fill an empty database with demo data (seed --demo)", runSeed},
		{"doctor", "check the configuration, database, object store (with encryption) and SMS driver; one line per check", runDoctor},
		{"version", "print the module version, commit, commit time and Go version of this binary", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one subcommand and returns the process exit status: 0 on
// success, 2 for usage and configuration errors, 1 for everything else.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdin, stdout, stderr)
		var code exitCode
		var cfgErr *config.Error
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &code):
			return int(code)
		case errors.As(err, &cfgErr):
			fmt.Fprintf(stderr, "recoverydesk: %v\n", cfgErr)
			return 2
		default:
			fmt.Fprintf(stderr, "recoverydesk %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "recoverydesk: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: recoverydesk <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nConfiguration comes from RD_* environment variables (see README). Run a command with --help for its flags.\n")
	io.WriteString(w, b.String())
}

// newFlags returns a flag set that prints its usage to stderr and reports
// parse errors as usage errors (exit 2).
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: recoverydesk %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping a parse error to exit status 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitCode(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return exitCode(2)
	}
	return nil
}

// loadConfig reads the environment.
func loadConfig() (config.Config, error) {
	return config.Load(os.LookupEnv)
}
