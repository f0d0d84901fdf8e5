package main

import (
	"fmt"
	"io"
)

func runStaff(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, "Usage: recoverydesk staff add --username U --name N --role R [--region CODE] [--password-stdin]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return exitCode(2)
	}
	return runStaffAdd(args[1:], stdin, stdout, stderr)
}
