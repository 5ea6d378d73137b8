// Package myapi serves the my.buurt.dev API (api/my/v1alpha1): the teams
// each requester has a part in (internal/myteams), read-only, from the
// cache of NeighbourhoodTeams and Coaches.
package myapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/myteams"
)

// MayListAll tells whether someone may list every NeighbourhoodTeam (a
// platform engineer), as the cluster's authorizer says.
type MayListAll func(ctx context.Context, who user.Info) (bool, error)

// TeamStorage is the REST storage of teams.my.buurt.dev: list, get and
// watch, each of the requester's own teams only. A team the requester has
// no part in is NotFound, never Forbidden: that would say it exists.
type TeamStorage struct {
	reader     client.Reader
	informers  ctrlcache.Informers
	mayListAll MayListAll
}

var (
	_ rest.Storage              = &TeamStorage{}
	_ rest.Scoper               = &TeamStorage{}
	_ rest.KindProvider         = &TeamStorage{}
	_ rest.SingularNameProvider = &TeamStorage{}
	_ rest.ShortNamesProvider   = &TeamStorage{}
	_ rest.Lister               = &TeamStorage{}
	_ rest.Getter               = &TeamStorage{}
	_ rest.Watcher              = &TeamStorage{}
)

// NewTeamStorage reads teams and coaches through reader (a cache) and its
// informers.
func NewTeamStorage(reader client.Reader, informers ctrlcache.Informers, mayListAll MayListAll) *TeamStorage {
	return &TeamStorage{reader: reader, informers: informers, mayListAll: mayListAll}
}

// New returns an empty Team.
func (s *TeamStorage) New() runtime.Object { return &myv1alpha1.Team{} }

// NewList returns an empty TeamList.
func (s *TeamStorage) NewList() runtime.Object { return &myv1alpha1.TeamList{} }

// Destroy has nothing to release: the cache is the server's.
func (s *TeamStorage) Destroy() {}

// NamespaceScoped is false: teams are cluster-scoped.
func (s *TeamStorage) NamespaceScoped() bool { return false }

// Kind is Team.
func (s *TeamStorage) Kind() string { return "Team" }

// GetSingularName is team.
func (s *TeamStorage) GetSingularName() string { return "team" }

// ShortNames lets `kubectl get myteams` find the resource.
func (s *TeamStorage) ShortNames() []string { return []string{"myteams", "myteam"} }

// person is the requester, from the request's context.
func person(ctx context.Context) (myteams.Person, user.Info, error) {
	who, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return myteams.Person{}, nil, apierrors.NewUnauthorized("no user in the request")
	}
	return myteams.Person{User: who.GetName(), Groups: who.GetGroups()}, who, nil
}

// parts are the requester's parts in teams, from the cache.
func (s *TeamStorage) parts(ctx context.Context) ([]myteams.Part, error) {
	p, who, err := person(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.mayListAll(ctx, who)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to ask whether %s may list every team: %w", who.GetName(), err))
	}
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	coaches := &teamsv1alpha1.CoachList{}
	for _, list := range []client.ObjectList{teams, coaches} {
		// Read only: View copies what it keeps.
		if err := s.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	return myteams.Parts(p, teams.Items, coaches.Items, all), nil
}

// List returns the requester's teams, by name.
func (s *TeamStorage) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	parts, err := s.parts(ctx)
	if err != nil {
		return nil, err
	}
	list := &myv1alpha1.TeamList{Items: make([]myv1alpha1.Team, 0, len(parts))}
	for _, part := range parts {
		view := myteams.View(part)
		if options != nil && options.LabelSelector != nil && !options.LabelSelector.Matches(labels.Set(view.Labels)) {
			continue
		}
		list.Items = append(list.Items, view)
	}
	slices.SortFunc(list.Items, func(a, b myv1alpha1.Team) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// Get returns one of the requester's teams; NotFound for any other.
func (s *TeamStorage) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	parts, err := s.parts(ctx)
	if err != nil {
		return nil, err
	}
	for _, part := range parts {
		if part.Team.Name == name {
			view := myteams.View(part)
			return &view, nil
		}
	}
	return nil, apierrors.NewNotFound(myv1alpha1.GroupVersion.WithResource("teams").GroupResource(), name)
}

// Watch sends the requester's teams as they are, then each change of what
// they see: a team they join is ADDED, one they leave DELETED, a change of
// one of theirs MODIFIED. Whether they may list every team is asked once,
// when the watch starts.
func (s *TeamStorage) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	p, who, err := person(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.mayListAll(ctx, who)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	w := &teamWatch{
		storage: s, person: p, all: all, events: make(chan watch.Event, 100), done: make(chan struct{}),
		sent: map[string]*myv1alpha1.Team{},
	}
	if options != nil && options.LabelSelector != nil {
		w.selector = options.LabelSelector.Matches
	}
	if err := w.start(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// ConvertToTable shows each team with the requester's role in it.
func (s *TeamStorage) ConvertToTable(_ context.Context, object runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "The team's name"},
		{Name: "Role", Type: "string", Description: "Your part in the team: Member, Coach or PlatformEngineer"},
		{Name: "Phase", Type: "string", Description: "The team's phase"},
		{Name: "Ready", Type: "string", Description: "Whether the team's workspace is ready"},
		{Name: "Namespace", Type: "string", Description: "The team's namespace"},
		{Name: "Coach", Type: "string", Description: "The coach the team chose"},
		{Name: "Members", Type: "integer", Description: "Member entries"},
		{Name: "Age", Type: "string", Description: "Since the team was made"},
		{Name: "Neighbourhood", Type: "string", Priority: 1, Description: "The area the team serves"},
		{Name: "Reason", Type: "string", Priority: 1, Description: "Why the team is or is not ready"},
	}}
	var teams []myv1alpha1.Team
	switch o := object.(type) {
	case *myv1alpha1.Team:
		teams = []myv1alpha1.Team{*o}
	case *myv1alpha1.TeamList:
		teams = o.Items
		table.ResourceVersion = o.ResourceVersion
	default:
		return nil, fmt.Errorf("cannot show %T as a table of teams", object)
	}
	for i := range teams {
		t := &teams[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells: []any{t.Name, string(t.Status.Role), orNone(t.Status.Phase), orNone(string(t.Status.Ready)), orNone(t.Status.Namespace),
				orNone(t.Status.Coach), int64(t.Status.MemberCount), age(t.CreationTimestamp), orNone(t.Status.Neighbourhood), orNone(t.Status.Reason)},
			Object: runtime.RawExtension{Object: t},
		})
	}
	return table, nil
}

// orNone is a cell for s: <none> when it is empty, as Kubernetes's own
// tables say (a pod's NOMINATED NODE).
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// teamWatch is one requester's watch.
type teamWatch struct {
	storage  *TeamStorage
	person   myteams.Person
	all      bool
	selector func(labels.Labels) bool

	events chan watch.Event
	done   chan struct{}
	stop   sync.Once

	// mu guards what follows, which the informers' handlers change.
	mu sync.Mutex
	// coached is which of the requester's coaches support which team.
	coached map[string][]string
	// sent is each team the requester has been sent as theirs, as sent.
	sent          map[string]*myv1alpha1.Team
	registrations []func()
}

// start registers with the informers of teams and coaches; their initial
// adds send the requester's teams as they are.
func (w *teamWatch) start(ctx context.Context) error {
	coaches := &teamsv1alpha1.CoachList{}
	if err := w.storage.reader.List(ctx, coaches); err != nil {
		return apierrors.NewInternalError(err)
	}
	w.coached = myteams.Coached(w.person, coaches.Items)
	for _, obj := range []client.Object{&teamsv1alpha1.Coach{}, &teamsv1alpha1.NeighbourhoodTeam{}} {
		informer, err := w.storage.informers.GetInformer(ctx, obj)
		if err != nil {
			w.Stop()
			return apierrors.NewInternalError(err)
		}
		handler := toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { w.changed(nil, o) },
			UpdateFunc: w.changed,
			DeleteFunc: func(o any) { w.changed(o, nil) },
		}
		registration, err := informer.AddEventHandler(handler)
		if err != nil {
			w.Stop()
			return apierrors.NewInternalError(err)
		}
		w.mu.Lock()
		w.registrations = append(w.registrations, func() { _ = informer.RemoveEventHandler(registration) })
		w.mu.Unlock()
	}
	return nil
}

// changed handles one event of a team or a coach.
func (w *teamWatch) changed(old, updated any) {
	if d, ok := old.(toolscache.DeletedFinalStateUnknown); ok {
		old = d.Obj
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch o := firstOf(old, updated).(type) {
	case *teamsv1alpha1.NeighbourhoodTeam:
		team, _ := updated.(*teamsv1alpha1.NeighbourhoodTeam)
		if team == nil {
			w.send(o.Name, nil)
			return
		}
		w.send(team.Name, team)
	case *teamsv1alpha1.Coach:
		// Coached keeps only the requester's coaches: another's changes
		// nothing.
		before := myteams.Coached(w.person, coachesOf(old))
		after := myteams.Coached(w.person, coachesOf(updated))
		if len(before) == 0 && len(after) == 0 {
			return
		}
		// The informer's first adds repeat what start read: take the coach
		// out everywhere before putting it where it is now.
		name := o.Name
		for team, by := range w.coached {
			w.coached[team] = slices.DeleteFunc(by, func(c string) bool { return c == name })
		}
		for team, by := range after {
			w.coached[team] = append(w.coached[team], by...)
		}
		for _, team := range unionKeys(before, after) {
			t := &teamsv1alpha1.NeighbourhoodTeam{}
			if err := w.storage.reader.Get(context.Background(), client.ObjectKey{Name: team}, t); err != nil {
				w.send(team, nil)
				continue
			}
			w.send(team, t)
		}
	}
}

// send tells the requester what team (nil: gone) now is to them.
func (w *teamWatch) send(name string, team *teamsv1alpha1.NeighbourhoodTeam) {
	var view *myv1alpha1.Team
	if team != nil {
		if part, ok := myteams.PartIn(w.person, team, w.coached, w.all); ok {
			v := myteams.View(part)
			if w.selector == nil || w.selector(labels.Set(v.Labels)) {
				view = &v
			}
		}
	}
	last, was := w.sent[name]
	var event watch.Event
	switch {
	case view == nil && !was:
		return
	case view == nil:
		delete(w.sent, name)
		gone := &myv1alpha1.Team{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if team != nil {
			gone.ResourceVersion = team.ResourceVersion
		}
		event = watch.Event{Type: watch.Deleted, Object: gone}
	case was && equality.Semantic.DeepEqual(last, view):
		// Nothing the requester sees changed (a coach's event repeats
		// what the team's said).
		return
	case was:
		w.sent[name] = view
		event = watch.Event{Type: watch.Modified, Object: view}
	default:
		w.sent[name] = view
		event = watch.Event{Type: watch.Added, Object: view}
	}
	select {
	case w.events <- event:
	case <-w.done:
	}
}

// ResultChan is where the events are sent.
func (w *teamWatch) ResultChan() <-chan watch.Event { return w.events }

// Stop ends the watch and removes its handlers.
func (w *teamWatch) Stop() {
	w.stop.Do(func() {
		close(w.done)
		w.mu.Lock()
		remove := w.registrations
		w.mu.Unlock()
		for _, r := range remove {
			r()
		}
	})
}

// age is how long ago a team was made, as kubectl shows it.
func age(created metav1.Time) string {
	if created.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(created.Time))
}

func firstOf(a, b any) any {
	if a != nil {
		return a
	}
	return b
}

func coachesOf(o any) []teamsv1alpha1.Coach {
	if c, ok := o.(*teamsv1alpha1.Coach); ok && c != nil {
		return []teamsv1alpha1.Coach{*c}
	}
	return nil
}

func unionKeys(a, b map[string][]string) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
