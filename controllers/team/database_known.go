package team

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// sharedVerifyInterval is how long what was found in place of a team's
// shared database is trusted without asking the server again, as long as
// nothing buurt watches changed: neither the team's database Secret, nor
// the server's admin Secret or answer (the server watch). A team is
// reconciled for many reasons (an app became available, a member was
// added); most have nothing to do with its database, and at 1,000 teams a
// conversation with the server each time is what the server would feel.
// Drift on the server alone (a role dropped by hand) is repaired at the
// first reconcile after this long.
const sharedVerifyInterval = 10 * time.Minute

// sharedInPlace is what one pass found in place of a team's shared
// database, and what it depended on.
type sharedInPlace struct {
	// team is the team's UID: a team made again under the same name starts
	// over.
	team types.UID
	// server is the server watch's state of the admin Secret and its
	// server, taken before the pass read them.
	server string
	// secretUID and secretVersion are the team's database Secret's, as
	// the pass applied it.
	secretUID, secretVersion string
	// secretHash is what the apps' pod templates carry of the Secret.
	secretHash string
	// name, host and port say where the database is.
	name, host, port string
	verified         time.Time
}

// sharedRecords holds what was found in place, by team name.
type sharedRecords struct {
	mu      sync.Mutex
	byTeam  map[string]sharedInPlace
	maxAge  time.Duration
	nowFunc func() time.Time
}

func newSharedRecords() *sharedRecords {
	return &sharedRecords{byTeam: map[string]sharedInPlace{}, maxAge: sharedVerifyInterval, nowFunc: time.Now}
}

// remember records what a pass found in place.
func (k *sharedRecords) remember(team *teamsv1alpha1.NeighbourhoodTeam, found sharedInPlace) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	found.team, found.verified = team.UID, k.nowFunc()
	k.byTeam[team.Name] = found
}

// forget drops what is known of a team, after a pass that did not find its
// database in place, or when it is gone.
func (k *sharedRecords) forget(team string) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.byTeam, team)
}

// inPlace is what was found of the team's database, when it still holds:
// the same team, server state and Secret, looked at less than maxAge ago.
func (k *sharedRecords) inPlace(team *teamsv1alpha1.NeighbourhoodTeam, server, secretUID, secretVersion string) (sharedInPlace, bool) {
	if k == nil {
		return sharedInPlace{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	found, ok := k.byTeam[team.Name]
	if !ok || found.team != team.UID || found.server != server || server == "" ||
		found.secretUID != secretUID || found.secretVersion != secretVersion ||
		k.nowFunc().Sub(found.verified) >= k.maxAge {
		return sharedInPlace{}, false
	}
	return found, true
}
