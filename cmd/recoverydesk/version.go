package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// runVersion prints what the binary was built from, as the Go toolchain
// recorded it in the binary (debug.ReadBuildInfo): nothing is stamped by
// hand at build time, so the answer cannot be stale.
func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version\n\nPrints the module version, the VCS commit the binary was built from, the commit's time\n(the build time as the toolchain records it), whether the working tree had uncommitted\nchanges, and the Go version.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("this binary carries no build information")
	}
	io.WriteString(stdout, versionText(info))
	return nil
}

// versionText is the report of version for info. A binary built outside a
// VCS checkout (or with -buildvcs=false) has no commit: it says so.
func versionText(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["vcs.revision"] == "" {
		return fmt.Sprintf("recoverydesk %s\ncommit:   unknown (built without VCS information)\ngo:       %s\n", info.Main.Version, info.GoVersion)
	}
	return fmt.Sprintf("recoverydesk %s\ncommit:   %s\nbuilt:    %s (time of the commit)\nmodified: %s\ngo:       %s\n",
		info.Main.Version, settings["vcs.revision"], settings["vcs.time"], settings["vcs.modified"], info.GoVersion)
}
