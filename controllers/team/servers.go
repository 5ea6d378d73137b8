package team

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/index"
)

// serverWatch looks, every interval, at each shared server a blueprint
// names: whether its admin Secret is there and unchanged, and whether the
// server answers. When what it sees changes it wakes the teams of that
// server, so that a team says within seconds that its server went away or
// came back, while teams on a healthy server are not reconciled on a timer.
// It asks each server once per interval (one ping, with the pool's
// deadline) and reads each admin Secret once: its cost does not grow with
// the number of teams.
type serverWatch struct {
	r        *Reconciler
	interval time.Duration
	events   chan event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam]
	// seen is what was last seen of each admin Secret and its server, by
	// the Secret's name, and admins the connection of each that answered;
	// mu guards both.
	mu     sync.Mutex
	seen   map[string]string
	admins map[string]database.Admin
	// sizes are the sizes of the team databases on each server as last
	// read, by the admin Secret's name and the team's (sizes.go); guarded
	// by mu.
	sizes map[string]map[string]int64
}

// answering is the state last seen of an admin Secret and its server, and
// the connection it gives, when the server answered; ok is false when it
// did not or has not been looked at.
func (w *serverWatch) answering(secretName string) (state string, admin database.Admin, ok bool) {
	if w == nil {
		return "", database.Admin{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if state := w.seen[secretName]; strings.HasSuffix(state, answers) {
		return state, w.admins[secretName], true
	}
	return "", database.Admin{}, false
}

func newServerWatch(r *Reconciler) *serverWatch {
	return &serverWatch{r: r, interval: r.ServerWatchInterval, seen: map[string]string{}, admins: map[string]database.Admin{},
		sizes:  map[string]map[string]int64{},
		events: make(chan event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam], 1024)}
}

// NeedLeaderElection: only the leader reconciles, so only it needs to know.
func (w *serverWatch) NeedLeaderElection() bool { return true }

// Start looks at once and then every interval until ctx ends: the teams
// reconciled first after a start find what it saw, instead of each
// reading the admin Secret itself. It reads the sizes of the team
// databases on each server that answers every DatabaseSizeInterval, the
// first time one interval after it starts (the teams' status has the sizes
// read before), on its own so that a slow read does not delay the look.
func (w *serverWatch) Start(ctx context.Context) error {
	go every(ctx, w.r.DatabaseSizeInterval, w.readSizes)
	w.look(ctx)
	every(ctx, w.interval, w.look)
	return nil
}

// every calls f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			f(ctx)
		}
	}
}

// look compares what it sees of every shared server with what it saw last
// time, and wakes the teams of each server that changed.
func (w *serverWatch) look(ctx context.Context) {
	bySecret, err := w.blueprintsBySecret(ctx)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list blueprints to watch their shared servers")
		return
	}
	for _, name := range slices.Sorted(maps.Keys(bySecret)) {
		now, admin, ok := w.state(ctx, name)
		if !ok {
			continue
		}
		w.mu.Lock()
		was, known := w.seen[name]
		w.seen[name], w.admins[name] = now, admin
		w.mu.Unlock()
		// A server first seen in trouble wakes its teams too: they may
		// have been reconciled before the trouble began.
		if (known && was != now) || (!known && !strings.HasSuffix(now, answers)) {
			ctrl.LoggerFrom(ctx).Info("A shared server or its admin Secret changed; looking at its teams again", "secret", name)
			w.wake(ctx, bySecret[name])
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name := range w.seen {
		if _, used := bySecret[name]; !used {
			delete(w.seen, name)
			delete(w.admins, name)
			delete(w.sizes, name)
		}
	}
}

// blueprintsBySecret are the names of the blueprints that name each admin
// Secret.
func (w *serverWatch) blueprintsBySecret(ctx context.Context) (map[string][]string, error) {
	blueprints := &teamsv1alpha1.TeamBlueprintList{}
	if err := w.r.Client.List(ctx, blueprints); err != nil {
		return nil, err
	}
	bySecret := map[string][]string{}
	for _, bp := range blueprints.Items {
		if name := bp.Spec.Database.Shared.AdminSecretName; name != "" {
			bySecret[name] = append(bySecret[name], bp.Name)
		}
	}
	return bySecret, nil
}

// answers ends the state of a server that answers.
const answers = "/answers"

// state is what can be seen of an admin Secret and its server, as a string
// to compare: the Secret's content (hashed) and how the server answers;
// with the connection the Secret gives. ok is false when the Secret could
// not be read: nothing is concluded then.
func (w *serverWatch) state(ctx context.Context, name string) (state string, admin database.Admin, ok bool) {
	readCtx, cancel := context.WithTimeout(ctx, w.interval)
	defer cancel()
	secret := &corev1.Secret{}
	switch err := w.r.APIReader.Get(readCtx, client.ObjectKey{Namespace: w.r.Namespace, Name: name}, secret); {
	case apierrors.IsNotFound(err):
		return "missing", admin, true
	case err != nil:
		return "", admin, false
	}
	sum := sha256.New()
	for _, key := range slices.Sorted(maps.Keys(secret.Data)) {
		sum.Write([]byte(key + "\x00"))
		sum.Write(secret.Data[key])
		sum.Write([]byte{0})
	}
	state = hex.EncodeToString(sum.Sum(nil))[:16]
	admin, bad := database.ParseAdmin(secret.Data)
	if bad != "" {
		return state + "/invalid", admin, true
	}
	server, err := w.r.Databases.Get(ctx, admin)
	if err != nil {
		return state + "/invalid", admin, true
	}
	switch err := server.Ping(ctx); {
	case err == nil:
		return state + answers, admin, true
	case database.IsAuthenticationFailure(err):
		return state + "/refuses-login", admin, true
	default:
		return state + "/silent", admin, true
	}
}

// wake enqueues the teams of the blueprints.
func (w *serverWatch) wake(ctx context.Context, blueprints []string) {
	w.enqueue(ctx, w.teamsOf(ctx, blueprints))
}

// enqueue enqueues the teams.
func (w *serverWatch) enqueue(ctx context.Context, teams []*teamsv1alpha1.NeighbourhoodTeam) {
	for _, team := range teams {
		select {
		case w.events <- event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam]{Object: team}:
		case <-ctx.Done():
			return
		}
	}
}

// teamsOf are the teams of the blueprints, from the cache, each once; not
// to be changed.
func (w *serverWatch) teamsOf(ctx context.Context, blueprints []string) []*teamsv1alpha1.NeighbourhoodTeam {
	seen := sets.New[string]()
	var teams []*teamsv1alpha1.NeighbourhoodTeam
	for _, bp := range blueprints {
		list := &teamsv1alpha1.NeighbourhoodTeamList{}
		if err := w.r.Client.List(ctx, list, client.UnsafeDisableDeepCopy, client.MatchingFields{index.TeamBlueprint: bp}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Failed to list the teams of a blueprint", "blueprint", bp)
			continue
		}
		for i := range list.Items {
			if !seen.Has(list.Items[i].Name) {
				seen.Insert(list.Items[i].Name)
				teams = append(teams, &list.Items[i])
			}
		}
	}
	return teams
}
