package team

import (
	"context"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
	ctrl "sigs.k8s.io/controller-runtime"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// readSizes reads, on each shared server that answers, the sizes of its
// teams' databases with one query, and wakes the teams whose size as their
// status says it (teamsv1alpha1.DatabaseSizeOf) moved. A server it cannot
// read keeps the sizes read before, and its teams what their status says.
func (w *serverWatch) readSizes(ctx context.Context) {
	bySecret, err := w.blueprintsBySecret(ctx)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list blueprints to read the sizes of their teams' databases")
		return
	}
	for _, secret := range slices.Sorted(maps.Keys(bySecret)) {
		_, admin, ok := w.answering(secret)
		if !ok {
			continue
		}
		byDatabase := map[string]*teamsv1alpha1.NeighbourhoodTeam{}
		for _, team := range w.teamsOf(ctx, bySecret[secret]) {
			if db := team.Status.Database; db != nil && db.Class == teamsv1alpha1.DatabaseClassShared && db.Name != "" {
				byDatabase[db.Name] = team
			}
		}
		if len(byDatabase) == 0 {
			continue
		}
		server, err := w.r.Databases.Get(ctx, admin)
		if err != nil {
			continue
		}
		sizes, err := server.Sizes(ctx, slices.Sorted(maps.Keys(byDatabase)))
		if err != nil {
			ctrl.LoggerFrom(ctx).Info("Could not read the sizes of the team databases on a shared server; "+
				"their teams keep the sizes their status says, and buurt reads them again later", "secret", secret, "error", err.Error())
			continue
		}
		byTeam := make(map[string]int64, len(sizes))
		var moved []*teamsv1alpha1.NeighbourhoodTeam
		for name, size := range sizes {
			team := byDatabase[name]
			byTeam[team.Name] = size
			if was := writtenSize(team); was == nil || was.Cmp(teamsv1alpha1.DatabaseSizeOf(size)) != 0 {
				moved = append(moved, team)
			}
		}
		w.mu.Lock()
		w.sizes[secret] = byTeam
		w.mu.Unlock()
		w.enqueue(ctx, moved)
	}
}

// writtenSize is the database size team's status says; nil when it says
// none.
func writtenSize(team *teamsv1alpha1.NeighbourhoodTeam) *resource.Quantity {
	if team.Status.Usage == nil {
		return nil
	}
	return team.Status.Usage.DatabaseSize
}

// databaseSize is the size of team's database on the server of the admin
// Secret as last read, as its status is to say it; nil when it has not been
// read since the operator started.
func (w *serverWatch) databaseSize(secret, team string) *resource.Quantity {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	size, ok := w.sizes[secret][team]
	if !ok {
		return nil
	}
	q := teamsv1alpha1.DatabaseSizeOf(size)
	return &q
}

// recordSize records the size of team's database, just read.
func (w *serverWatch) recordSize(secret, team string, size int64) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sizes[secret] == nil {
		w.sizes[secret] = map[string]int64{}
	}
	w.sizes[secret][team] = size
}
