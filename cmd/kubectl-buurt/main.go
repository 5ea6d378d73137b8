// Command kubectl-buurt is buurt's kubectl plugin: `kubectl buurt mine`
// lists the teams you are a member of or coach, through buurt's aggregated
// API (my.buurt.dev); `kubectl buurt describe TEAM` shows a team as a tree;
// `kubectl buurt coach [NAME]` a coach's teams, waiting teams and capacity;
// `kubectl buurt reconcile TEAM` asks buurt to look at a team again now.
// All take kubectl's own flags (--context, --as, ...).
package main

import (
	"os"
	"time"

	"github.com/buurt-dev/buurt/internal/plugin"
)

func main() {
	if err := plugin.Command(os.Stdout, time.Now).Execute(); err != nil {
		os.Exit(1)
	}
}
