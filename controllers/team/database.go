package team

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/render"
)

// DatabaseFinalizer holds a team with a database until its data is kept or
// deleted by its reclaim policy: a Shared database lives outside Kubernetes,
// where garbage collection cannot reach, and a Dedicated one's volumes must
// be switched to Retain before the namespace and its claims go.
const DatabaseFinalizer = "teams.buurt.dev/database"

// databaseClass is the team's database class: fixed in status once its
// database exists, else the team's override, else the blueprint's.
func databaseClass(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) (class, wanted teamsv1alpha1.DatabaseClass) {
	wanted = blueprint.Spec.Database.Class
	if team.Spec.Database != nil && team.Spec.Database.Class != "" {
		wanted = team.Spec.Database.Class
	}
	if team.Status.Database != nil && team.Status.Database.Class != "" {
		return team.Status.Database.Class, wanted
	}
	return wanted, wanted
}

// reclaimPolicy is the team's override, else the blueprint's, else Retain.
func reclaimPolicy(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) teamsv1alpha1.ReclaimPolicy {
	if team.Spec.Database != nil && team.Spec.Database.ReclaimPolicy != "" {
		return team.Spec.Database.ReclaimPolicy
	}
	if blueprint != nil && blueprint.Spec.Database.ReclaimPolicy != "" {
		return blueprint.Spec.Database.ReclaimPolicy
	}
	return teamsv1alpha1.ReclaimPolicyRetain
}

// reconcileDatabase provisions the team's database by its class.
func (r *Reconciler) reconcileDatabase(ctx context.Context, s *scope) error {
	team := s.team
	class, wanted := databaseClass(team, s.blueprint)
	if class != wanted {
		// The blueprint can describe one class only: the database is left as
		// it is, reachable as before, and its volumes still follow the
		// reclaim policy.
		s.keepDatabaseEgress = true
		if class == teamsv1alpha1.DatabaseClassDedicated {
			if _, err := r.reconcileVolumes(ctx, team, reclaimPolicy(team, s.blueprint)); err != nil {
				return err
			}
		}
		setCondition(team, teamsv1alpha1.DatabaseReadyCondition, false, teamsv1alpha1.DatabaseClassMismatchReason,
			fmt.Sprintf("The team's database is %s but its blueprint or override now says %s; buurt leaves the database as it is "+
				"and does not move data: migrate it and make a new team, or set the class back", class, wanted))
		return nil
	}
	switch class {
	case teamsv1alpha1.DatabaseClassShared:
		return r.reconcileShared(ctx, s)
	case teamsv1alpha1.DatabaseClassDedicated:
		return r.reconcileDedicated(ctx, s)
	default:
		team.Status.Database = nil
		setCondition(team, teamsv1alpha1.DatabaseReadyCondition, true, teamsv1alpha1.DatabaseNotRequestedReason,
			"The team has no database (class None)")
		return nil
	}
}

// adminConnection reads the shared server's admin Secret, from the
// operator's own namespace only. ok is false when the condition was set.
func (r *Reconciler) adminConnection(ctx context.Context, s *scope) (admin database.Admin, ok bool, err error) {
	name := s.blueprint.Spec.Database.Shared.AdminSecretName
	if name == "" {
		setCondition(s.team, teamsv1alpha1.DatabaseReadyCondition, false, teamsv1alpha1.AdminSecretMissingReason,
			fmt.Sprintf("Blueprint %s names no shared server (spec.database.shared.adminSecretName); "+
				"a team can have class Shared only with a blueprint that does", s.blueprint.Name))
		return admin, false, nil
	}
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return admin, false, fmt.Errorf("failed to read admin Secret %s/%s: %w", r.Namespace, name, err)
		}
		setCondition(s.team, teamsv1alpha1.DatabaseReadyCondition, false, teamsv1alpha1.AdminSecretMissingReason,
			fmt.Sprintf("Secret %s/%s with the shared server's admin connection does not exist; "+
				"create it with the keys host, port, user, password and sslmode", r.Namespace, name))
		s.requeueAfter = r.ServerRetry
		return admin, false, nil
	}
	get := func(key, fallback string) string {
		if v := string(secret.Data[key]); v != "" {
			return v
		}
		return fallback
	}
	admin = database.Admin{Host: get("host", ""), Port: get("port", "5432"), User: get("user", ""),
		Password: get("password", ""), SSLMode: get("sslmode", "require")}
	port, err := strconv.Atoi(admin.Port)
	// In a fixed order, so the condition's message does not change between
	// reconciles.
	for _, check := range []struct {
		key string
		bad bool
	}{
		{"host", admin.Host == ""}, {"port", err != nil || port < 1 || port > 65535},
		{"user", admin.User == ""}, {"password", admin.Password == ""},
	} {
		if check.bad {
			setCondition(s.team, teamsv1alpha1.DatabaseReadyCondition, false, teamsv1alpha1.AdminSecretInvalidReason,
				fmt.Sprintf("Secret %s/%s has no valid %q; it needs host, port, user, password and sslmode", r.Namespace, name, check.key))
			s.requeueAfter = r.ServerRetry
			return admin, false, nil
		}
	}
	return admin, true, nil
}

// sharedServer is the pool of the blueprint's shared server, from its admin
// Secret. ok is false, with the condition set, when the Secret does not say
// how to reach it.
func (r *Reconciler) sharedServer(ctx context.Context, s *scope) (*database.SharedServer, database.Admin, bool, error) {
	admin, ok, err := r.adminConnection(ctx, s)
	if !ok || err != nil {
		return nil, admin, ok, err
	}
	server, err := r.Databases.Get(ctx, admin)
	return server, admin, err == nil, err
}

// reconcileShared makes the team's role and database on the shared server
// and the Secret that says how to connect.
func (r *Reconciler) reconcileShared(ctx context.Context, s *scope) error {
	team := s.team
	if err := r.addFinalizer(ctx, team); err != nil {
		return err
	}
	server, admin, ok, err := r.sharedServer(ctx, s)
	if !ok || err != nil {
		return err
	}
	if err := server.Ping(ctx); err != nil {
		r.serverDown(s, admin, err)
		return nil
	}

	name := database.Name(team.Name)
	// Read past the cache: a Secret just deleted to rotate a password must
	// not come back from a stale cache with the old one.
	secret := &corev1.Secret{}
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: team.NamespaceName(), Name: render.DatabaseSecretName(team)}, secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to read the database Secret of team %s: %w", klog.KObj(team), err)
	}
	// The Secret is the source of truth for the password; without it, a
	// new one is made and set on the role.
	password := string(secret.Data["password"])
	rotate := password == ""
	for attempt := 0; ; attempt++ {
		if rotate {
			if password, err = database.NewPassword(); err != nil {
				return err
			}
		}
		verifier, err := database.SCRAMVerifier(password)
		if err != nil {
			return err
		}
		if err := server.Ensure(ctx, database.Tenant{Name: name, Team: team.Name}, verifier); err != nil {
			if conflict := (*database.ConflictError)(nil); errors.As(err, &conflict) {
				setCondition(team, teamsv1alpha1.DatabaseReadyCondition, false, teamsv1alpha1.DatabaseConflictReason,
					fmt.Sprintf("The %s %s on %s:%s was not made by buurt for this team, and buurt does not take it over; "+
						"give the team another name", conflict.Object, name, admin.Host, admin.Port))
				s.requeueAfter = r.ServerRetry
				return nil
			}
			return fmt.Errorf("failed to provision the database of team %s: %w", klog.KObj(team), err)
		}
		if rotate {
			if err := server.SetPassword(ctx, name, verifier); err != nil {
				return fmt.Errorf("failed to set the database password of team %s: %w", klog.KObj(team), err)
			}
		}
		applied := &corev1.Secret{}
		if err := r.Applier.Apply(ctx, render.DatabaseSecret(team, render.Connection{
			Host: admin.Host, Port: admin.Port, DBName: name, User: name, Password: password, SSLMode: admin.SSLMode,
		}), applied); err != nil {
			return fmt.Errorf("failed to apply the database Secret of team %s: %w", klog.KObj(team), err)
		}
		// A Secret deleted (to rotate its password) after it was read was
		// just made again from what was read: rotate as if it had not been
		// read at all.
		if secret.UID == "" || applied.UID == secret.UID || attempt > 0 {
			break
		}
		rotate = true
	}
	port, _ := strconv.ParseInt(admin.Port, 10, 32)
	s.databaseEgress = render.DatabaseEgressPolicy(team, s.blueprint, int32(port))
	team.Status.Database = &teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassShared, Name: name, SecretName: render.DatabaseSecretName(team),
	}
	setCondition(team, teamsv1alpha1.DatabaseReadyCondition, true, teamsv1alpha1.ProvisionedReason,
		fmt.Sprintf("Database %s on %s:%s; connection in Secret %s", name, admin.Host, admin.Port, render.DatabaseSecretName(team)))
	return nil
}

// serverDown reports a shared server that refused or did not answer, and
// waits for it.
func (r *Reconciler) serverDown(s *scope, admin database.Admin, err error) {
	reason, message := teamsv1alpha1.ServerUnreachableReason,
		fmt.Sprintf("Shared database server %s:%s does not answer; buurt tries again", admin.Host, admin.Port)
	if database.IsAuthenticationFailure(err) {
		reason, message = teamsv1alpha1.AuthenticationFailedReason,
			fmt.Sprintf("Shared database server %s:%s refused user %s; check the admin Secret's user and password",
				admin.Host, admin.Port, admin.User)
	}
	setCondition(s.team, teamsv1alpha1.DatabaseReadyCondition, false, reason, message)
	s.requeueAfter = r.ServerRetry
}

// reconcileDedicated runs the team's own PostgreSQL in its namespace.
func (r *Reconciler) reconcileDedicated(ctx context.Context, s *scope) error {
	team := s.team
	if err := r.addFinalizer(ctx, team); err != nil {
		return err
	}
	secret := &corev1.Secret{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: team.NamespaceName(), Name: render.DatabaseSecretName(team)}, secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to read the database Secret of team %s: %w", klog.KObj(team), err)
	}
	// The Secret is the source of truth for the password: the server sets
	// it from there each time it starts, and a new Secret (with a new UID)
	// restarts it.
	password := string(secret.Data["password"])
	if password == "" {
		if password, err = database.NewPassword(); err != nil {
			return err
		}
	}
	name := database.Name(team.Name)
	applied := &corev1.Secret{}
	if err := r.Applier.Apply(ctx, render.DatabaseSecret(team, render.Connection{
		Host: render.DedicatedHost(team), Port: render.DedicatedPort, DBName: name, User: name, Password: password, SSLMode: "disable",
	}), applied); err != nil {
		return fmt.Errorf("failed to apply the database Secret of team %s: %w", klog.KObj(team), err)
	}
	if err := r.Applier.Apply(ctx, render.DedicatedService(team), &corev1.Service{}); err != nil {
		return fmt.Errorf("failed to apply the database Service of team %s: %w", klog.KObj(team), err)
	}

	// A StatefulSet's claim template cannot change: an existing database
	// keeps the storage it was made with.
	storage, note := render.DedicatedStorage(s.blueprint), ""
	existing := &appsv1.StatefulSet{}
	err = r.Client.Get(ctx, client.ObjectKey{Namespace: team.NamespaceName(), Name: render.DedicatedDatabaseName}, existing)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to read the database StatefulSet of team %s: %w", klog.KObj(team), err)
	}
	if len(existing.Spec.VolumeClaimTemplates) > 0 {
		claim := existing.Spec.VolumeClaimTemplates[0].Spec
		was := render.Storage{Size: claim.Resources.Requests[corev1.ResourceStorage], ClassName: ptr.Deref(claim.StorageClassName, "")}
		if was.Size.Cmp(storage.Size) != 0 || was.ClassName != storage.ClassName {
			note = fmt.Sprintf("; it keeps its %s volume, the blueprint's %s applies to new teams", was.Size.String(), storage.Size.String())
		}
		storage = was
	}
	sts := &appsv1.StatefulSet{}
	if err := r.Applier.Apply(ctx, render.DedicatedStatefulSet(team, s.blueprint, string(applied.UID), storage), sts); err != nil {
		return fmt.Errorf("failed to apply the database StatefulSet of team %s: %w", klog.KObj(team), err)
	}
	if _, err := r.reconcileVolumes(ctx, team, reclaimPolicy(team, s.blueprint)); err != nil {
		return err
	}
	team.Status.Database = &teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassDedicated, Name: name, SecretName: render.DatabaseSecretName(team),
	}
	if sts.Status.ReadyReplicas < 1 {
		setCondition(team, teamsv1alpha1.DatabaseReadyCondition, false, teamsv1alpha1.ProvisioningReason,
			"The team's PostgreSQL is starting"+note)
		return nil
	}
	setCondition(team, teamsv1alpha1.DatabaseReadyCondition, true, teamsv1alpha1.ProvisionedReason,
		fmt.Sprintf("Database %s runs in the team's namespace; connection in Secret %s%s", name, render.DatabaseSecretName(team), note))
	return nil
}

func (r *Reconciler) addFinalizer(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) error {
	if controllerutil.ContainsFinalizer(team, DatabaseFinalizer) {
		return nil
	}
	patch := client.MergeFrom(team.DeepCopy())
	controllerutil.AddFinalizer(team, DatabaseFinalizer)
	if err := r.Client.Patch(ctx, team, patch); err != nil {
		return fmt.Errorf("failed to add the database finalizer to team %s: %w", klog.KObj(team), err)
	}
	return nil
}

// reconcileDelete keeps or drops the team's database by its reclaim policy,
// then lets the team go. Everything inside Kubernetes is garbage collected.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) error {
	team := s.team
	team.Status.Phase = teamsv1alpha1.TeamPhaseTerminating
	if !controllerutil.ContainsFinalizer(team, DatabaseFinalizer) {
		return nil
	}
	class := teamsv1alpha1.DatabaseClassShared
	if team.Status.Database != nil && team.Status.Database.Class != "" {
		class = team.Status.Database.Class
	} else if s.blueprint != nil {
		class, _ = databaseClass(team, s.blueprint)
	}
	if class == teamsv1alpha1.DatabaseClassDedicated {
		return r.deleteDedicated(ctx, s)
	}
	return r.deleteShared(ctx, s)
}

// deleteShared keeps the team's database and role on the shared server, or
// drops them; the finalizer holds until the server answers.
func (r *Reconciler) deleteShared(ctx context.Context, s *scope) error {
	team := s.team
	name := databaseName(team)
	// Without a blueprint that names the server, buurt cannot reach the
	// database: it is kept, whatever the policy.
	if s.blueprint == nil || s.blueprint.Spec.Database.Shared.AdminSecretName == "" {
		r.retained(ctx, team, fmt.Sprintf("Database %s on the shared server is kept: the team's blueprint no longer names the server", name),
			"drop it by hand when it is no longer needed")
		return r.removeFinalizer(ctx, team)
	}
	if reclaimPolicy(team, s.blueprint) == teamsv1alpha1.ReclaimPolicyRetain {
		where := "the shared server"
		if admin, ok, err := r.adminConnection(ctx, s); err == nil && ok {
			where = admin.Host + ":" + admin.Port
		}
		r.retained(ctx, team, fmt.Sprintf("Database %s on %s is kept (reclaimPolicy Retain)", name, where),
			"drop it by hand when it is no longer needed")
		return r.removeFinalizer(ctx, team)
	}

	server, admin, ok, err := r.sharedServer(ctx, s)
	if !ok || err != nil {
		return err
	}
	if err := server.Drop(ctx, database.Tenant{Name: name, Team: team.Name}); err != nil {
		if conflict := (*database.ConflictError)(nil); errors.As(err, &conflict) {
			// Nothing there is the team's: nothing is dropped.
			r.Recorder.Eventf(team, nil, corev1.EventTypeWarning, teamsv1alpha1.DatabaseConflictReason, "Delete",
				"Dropped nothing on %s:%s: the %s %s there was not made by buurt for this team", admin.Host, admin.Port, conflict.Object, name)
			return r.removeFinalizer(ctx, team)
		}
		// The finalizer holds until the server answers.
		r.serverDown(s, admin, err)
		return nil
	}
	r.Recorder.Eventf(team, nil, corev1.EventTypeNormal, teamsv1alpha1.DatabaseDeletedReason, "Delete",
		"Dropped database and role %s on %s:%s (reclaimPolicy Delete)", name, admin.Host, admin.Port)
	return r.removeFinalizer(ctx, team)
}

// deleteDedicated makes sure, before the namespace and its claims go, that
// the volumes holding a Dedicated database follow the reclaim policy.
func (r *Reconciler) deleteDedicated(ctx context.Context, s *scope) error {
	team := s.team
	name := databaseName(team)
	policy := reclaimPolicy(team, s.blueprint)
	volumes, err := r.reconcileVolumes(ctx, team, policy)
	if err != nil {
		return err
	}
	switch {
	case policy == teamsv1alpha1.ReclaimPolicyDelete:
		r.Recorder.Eventf(team, nil, corev1.EventTypeNormal, teamsv1alpha1.DatabaseDeletedReason, "Delete",
			"Database %s is deleted with the team's namespace (reclaimPolicy Delete)", name)
	case len(volumes) == 0:
		r.retained(ctx, team, fmt.Sprintf("Database %s had no volume bound yet; there is no data to keep", name), "")
	default:
		r.retained(ctx, team, fmt.Sprintf("Database %s is kept on PersistentVolume %s (reclaimPolicy Retain)", name, strings.Join(volumes, ", ")),
			"bind a new claim to it to use the data again, or delete it when it is no longer needed")
	}
	return r.removeFinalizer(ctx, team)
}

// retained tells, in the log, an Event and the condition, where a deleted
// team's data is kept and what to do with it.
func (r *Reconciler) retained(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, where, next string) {
	ctrl.LoggerFrom(ctx).Info("Keeping the team's database", "where", where)
	note := where
	if next != "" {
		note += "; " + next
	}
	r.Recorder.Eventf(team, nil, corev1.EventTypeNormal, teamsv1alpha1.RetainedReason, "Delete", "%s", note)
	setCondition(team, teamsv1alpha1.DatabaseReadyCondition, false, teamsv1alpha1.RetainedReason, where)
}

// databaseName is the name of the team's database, as recorded in status.
func databaseName(team *teamsv1alpha1.NeighbourhoodTeam) string {
	if team.Status.Database != nil && team.Status.Database.Name != "" {
		return team.Status.Database.Name
	}
	return database.Name(team.Name)
}

func (r *Reconciler) removeFinalizer(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) error {
	patch := client.MergeFrom(team.DeepCopy())
	controllerutil.RemoveFinalizer(team, DatabaseFinalizer)
	if err := r.Client.Patch(ctx, team, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to remove the database finalizer from team %s: %w", klog.KObj(team), err)
	}
	return nil
}
