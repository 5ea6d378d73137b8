package team

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/patch"
	"github.com/buurt-dev/buurt/internal/render"
)

// sharedPhaseTimeout bounds all the work on a shared server in one
// reconcile. Each call has its own, shorter deadline (package database) and
// a server that stops answering is not asked again for a while, so this is
// only the last guard of a worker that other teams wait for.
const sharedPhaseTimeout = 20 * time.Second

// adminConnection reads the shared server's admin Secret, from the
// operator's own namespace only. ok is false when it does not say how to
// reach the server; what was found is recorded.
func (r *Reconciler) adminConnection(ctx context.Context, s *scope) (admin database.Admin, ok bool, err error) {
	name := s.blueprint.Spec.Database.Shared.AdminSecretName
	if name == "" {
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AdminSecretMissingReason,
			fmt.Sprintf("Blueprint %s names no shared server (spec.database.shared.adminSecretName); "+
				"a team can have class Shared only with a blueprint that does", s.blueprint.Name))
		return admin, false, nil
	}
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return admin, false, fmt.Errorf("failed to read admin Secret %s/%s: %w", r.Namespace, name, err)
		}
		r.cannotSee(s, teamsv1alpha1.AdminSecretMissingReason, fmt.Sprintf(
			"Secret %s/%s with the shared server's admin connection does not exist; "+
				"create it with the keys host, port, user, password and sslmode", r.Namespace, name))
		return admin, false, nil
	}
	admin, bad := database.ParseAdmin(secret.Data)
	if bad != "" {
		r.cannotSee(s, teamsv1alpha1.AdminSecretInvalidReason, fmt.Sprintf(
			"Secret %s/%s has no valid %q; it needs host, port, user, password and sslmode", r.Namespace, name, bad))
		return admin, false, nil
	}
	return admin, true, nil
}

// cannotSee records why buurt cannot look at the team's shared database,
// and looks again after ServerRetry (the server watch wakes the team sooner
// when it sees a change). DatabaseReady is Unknown for a database that
// exists, which buurt keeps as it is and says so, and False for one it has
// not made yet.
func (r *Reconciler) cannotSee(s *scope, reason, message string) {
	status := metav1.ConditionFalse
	if s.team.Status.Database != nil {
		status = metav1.ConditionUnknown
		message += "; the team's database, its Secret and its network policy are kept as they are"
	}
	if s.rotationDue != "" {
		message += fmt.Sprintf("; the database password is to be made anew (%s) once buurt reaches the server, "+
			"and the old one works until then", s.rotationDue)
	}
	s.found(teamsv1alpha1.DatabaseReadyCondition, status, reason, message)
	s.requeue(r.ServerRetry)
}

// sharedServer is the pool of the blueprint's shared server, from its admin
// Secret. ok is false, with what was found recorded, when the Secret does not
// say how to reach it.
func (r *Reconciler) sharedServer(ctx context.Context, s *scope) (*database.SharedServer, database.Admin, bool, error) {
	admin, ok, err := r.adminConnection(ctx, s)
	if !ok || err != nil {
		return nil, admin, ok, err
	}
	server, err := r.Databases.Get(ctx, admin)
	if err != nil {
		r.cannotSee(s, teamsv1alpha1.AdminSecretInvalidReason, fmt.Sprintf("The admin Secret does not make a valid connection: %v", err))
		return nil, admin, false, nil
	}
	return server, admin, true, nil
}

// reconcileShared makes the team's role and database on the shared server
// and the Secret that says how to connect. Whatever keeps buurt from the
// server, the team keeps what it has. What was found in place is trusted,
// without a word to the server or a read of a Secret, while nothing it
// depends on has changed (sharedRecords).
func (r *Reconciler) reconcileShared(ctx context.Context, s *scope) error {
	team := s.team
	if err := patch.AddFinalizer(ctx, r.Client, team, DatabaseFinalizer); err != nil {
		return err
	}
	if s.archived {
		r.shared.forget(team.Name)
		return r.archiveShared(ctx, s)
	}
	// What the server watch saw last, at most a few seconds ago: a change
	// after it is one the watch will see, and wake the team for.
	adminSecret := s.blueprint.Spec.Database.Shared.AdminSecretName
	serverState, admin, answering := r.servers.answering(adminSecret)
	s.databaseSize = r.servers.databaseSize(adminSecret, team.Name)
	s.rotationDue = r.rotationDue(s)
	if uid, version, ok := r.secrets.version(team.NamespaceName(), render.DatabaseSecretName(team)); ok &&
		s.rotationDue == "" && team.Status.Credentials != nil && s.awaitingCopy == nil {
		if found, ok := r.shared.inPlace(team, serverState, uid, version); ok {
			r.sharedProvisioned(s, found)
			return nil
		}
	}
	r.shared.forget(team.Name)
	var server *database.SharedServer
	if answering {
		server, _ = r.Databases.Get(ctx, admin)
	}
	if server == nil {
		// The watch has not seen the server answer: the admin Secret says
		// how to reach it, or why buurt cannot.
		var ok bool
		var err error
		if server, admin, ok, err = r.sharedServer(ctx, s); !ok || err != nil {
			return err
		}
	}
	port, _ := strconv.ParseInt(admin.Port, 10, 32)
	s.databasePort = int32(port)
	ctx, cancel := context.WithTimeout(ctx, sharedPhaseTimeout)
	defer cancel()

	tenant, err := server.Tenant(ctx, team.Name)
	var secret *corev1.Secret
	if err == nil {
		secret, err = r.ensureShared(ctx, s, server, tenant, admin)
	}
	if handled, err := r.serverFailed(ctx, s, admin, err); handled || err != nil {
		return err
	}
	if split := s.awaitingCopy; split != nil {
		// Not remembered as in place: the next pass after the copy looks
		// at the server again.
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AwaitingCopyReason, fmt.Sprintf(
			"Database %s on %s:%s is to be a copy of team %s's, which split %s makes; its role and connection Secret %s are ready",
			tenant.Name, admin.Host, admin.Port, split.Spec.Source, split.Name, render.DatabaseSecretName(team)))
		return nil
	}
	if s.databaseSize == nil && writtenSize(team) == nil {
		r.readSize(ctx, s, server, tenant.Name)
	}
	found := sharedInPlace{server: serverState, secretUID: string(secret.UID), secretVersion: secret.ResourceVersion,
		secretHash: render.SecretHash(secret.Data), name: tenant.Name, host: admin.Host, port: admin.Port}
	r.shared.remember(team, found)
	r.sharedProvisioned(s, found)
	return nil
}

// readSize reads the size of the team's database, which its status does
// not say yet (one just made, or made before buurt said sizes): once,
// later sizes come from the server watch's reads (sizes.go). A size it
// cannot read is left for those.
func (r *Reconciler) readSize(ctx context.Context, s *scope, server *database.SharedServer, name string) {
	size, err := server.Size(ctx, name)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Could not read the size of the team's database; buurt reads it again later", "error", err.Error())
		return
	}
	r.servers.recordSize(s.blueprint.Spec.Database.Shared.AdminSecretName, s.team.Name, size)
	s.databaseSize = ptr.To(teamsv1alpha1.DatabaseSizeOf(size))
}

// sharedProvisioned records a team's shared database found in place.
func (r *Reconciler) sharedProvisioned(s *scope, found sharedInPlace) {
	team := s.team
	port, _ := strconv.ParseInt(found.port, 10, 32)
	s.databasePort = int32(port)
	s.databaseSecretHash = &found.secretHash
	provisioned := &teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassShared, Name: found.name, SecretName: render.DatabaseSecretName(team),
	}
	s.database = &provisioned
	if s.blueprint.Spec.Database.Shared.Egress == nil {
		// The team's NetworkPolicies deny all egress but DNS and the
		// namespace itself: without the blueprint's word on where the server
		// is, no app of the team can reach the database just made, however
		// healthy the server. That is not ready, and says what to set.
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.NoDatabaseEgressReason,
			fmt.Sprintf("Database %s on %s:%s and its connection Secret %s are made, but the team's NetworkPolicies keep its pods "+
				"from the server: blueprint %s does not say where the server is. Set its spec.database.shared.egress to the "+
				"server's address range (cidr: 10.0.12.5/32) or, for a server in this cluster, its pods "+
				"(peer: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: databases}}}); "+
				"the Helm chart sets it from region.defaultBlueprint.database.egress",
				found.name, found.host, found.port, render.DatabaseSecretName(team), s.blueprint.Name))
		return
	}
	asleep := ""
	if s.dormant && s.pausedFor == "" {
		asleep = "; a Shared database stays up while the team is Dormant: it costs the team nothing"
	}
	s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason,
		fmt.Sprintf("Database %s on %s:%s; connection in Secret %s%s", found.name, found.host, found.port, render.DatabaseSecretName(team), asleep))
}

// ensureShared makes the team's role and database and the Secret with the
// password, and returns the Secret as applied. The Secret is the source of
// truth for the password; without it, a new one is made and set on the
// role.
func (r *Reconciler) ensureShared(ctx context.Context, s *scope, server *database.SharedServer, tenant database.Tenant, admin database.Admin) (*corev1.Secret, error) {
	team, name := s.team, tenant.Name
	secret, err := r.databaseSecret(ctx, s)
	if err != nil {
		return nil, err
	}
	password := string(secret.Data["password"])
	rotate := password == "" || s.rotationDue != ""
	reason := madeReason(team, s.rotationDue)
	for attempt := 0; ; attempt++ {
		if rotate {
			if password, err = database.NewPassword(); err != nil {
				return nil, err
			}
		}
		// The verifier (4,096 rounds of PBKDF2) is only for a password
		// the server is to be given.
		verifier := ""
		if rotate || !tenant.Found {
			if verifier, err = database.SCRAMVerifier(password); err != nil {
				return nil, err
			}
		}
		ensure := server.Ensure
		if s.awaitingCopy != nil {
			// Its database is the copy; made empty now, it could not be.
			ensure = server.EnsureRole
		}
		if err := ensure(ctx, tenant, verifier); err != nil {
			return nil, fmt.Errorf("failed to provision the database of team %s: %w", klog.KObj(team), err)
		}
		// A role Ensure just made has the password already. The server has
		// the new password before the Secret does: should the server refuse
		// it, the old one keeps working and nothing changed; should the
		// Secret not take it, the reason to rotate is still there at the
		// next pass, which makes another.
		note := ""
		if rotate && tenant.Found {
			if err := server.SetPassword(ctx, name, verifier); err != nil {
				return nil, fmt.Errorf("failed to set the database password of team %s: %w", klog.KObj(team), err)
			}
			note = r.endSessions(ctx, server, name)
		}
		tenant.Found = true
		applied, err := r.applyDatabaseSecret(ctx, s, render.Connection{
			Host: admin.Host, Port: admin.Port, DBName: name, User: name, Password: password, SSLMode: admin.SSLMode,
		}, secret)
		if err != nil {
			return nil, err
		}
		// A Secret deleted (to rotate its password) after it was read was
		// just made again from what was read: rotate as if it had not been
		// read at all.
		if secret.UID == "" || applied.UID == secret.UID || attempt > 0 {
			if rotate {
				r.passwordMade(ctx, s, reason, note)
			} else {
				passwordKept(s, applied)
			}
			return applied, nil
		}
		rotate, reason = true, teamsv1alpha1.RotationSecretDeleted
	}
}

// endSessions ends the sessions of the team's role that were opened with the
// old password, and says so in the rotation's Event when it could not.
func (r *Reconciler) endSessions(ctx context.Context, server *database.SharedServer, role string) string {
	if _, err := server.EndSessions(ctx, role); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to end the sessions of a team's role after making its password anew", "role", role)
		return "; buurt could not end the sessions opened with the old password (the operator's log says why), " +
			"which last until they close"
	}
	return ""
}

// archiveShared keeps an Archived team's database and closes it: its role
// cannot log in (NOLOGIN, no password) and its open sessions end. The
// Secret stays, with a password that no longer works. Once the status says
// so, no pass asks the server again; coming back makes a new password
// (RotationUnarchived).
func (r *Reconciler) archiveShared(ctx context.Context, s *scope) error {
	team := s.team
	if c := meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.DatabaseReadyCondition); c != nil &&
		c.Reason == teamsv1alpha1.ArchivedReason && c.Status == metav1.ConditionTrue {
		s.found(teamsv1alpha1.DatabaseReadyCondition, c.Status, c.Reason, c.Message)
		return nil
	}
	server, admin, ok, err := r.sharedServer(ctx, s)
	if !ok || err != nil {
		return err
	}
	tenant, err := r.lockShared(ctx, server, team)
	if handled, err := r.serverFailed(ctx, s, admin, err); handled || err != nil {
		return err
	}
	if !tenant.Found {
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ArchivedReason,
			"The team is archived; its database is made when a platform engineer sets lifecycle back to Active")
		return nil
	}
	s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ArchivedReason, fmt.Sprintf(
		"Database %s on %s:%s and its data are kept; while the team is archived its role cannot log in (NOLOGIN, no password). "+
			"Setting lifecycle back to Active gives it a new password, in Secret %s", tenant.Name, admin.Host, admin.Port,
		render.DatabaseSecretName(team)))
	return nil
}

// serverFailed records what a shared server's answer err says, when it
// says something is wrong there (handled); any other error is returned.
func (r *Reconciler) serverFailed(ctx context.Context, s *scope, admin database.Admin, err error) (handled bool, _ error) {
	switch conflict := (*database.ConflictError)(nil); {
	case errors.As(err, &conflict):
		r.conflicted(ctx, s, admin, conflict)
		return true, nil
	case database.IsServerError(err):
		r.serverDown(ctx, s, admin, err)
		return true, nil
	}
	return false, err
}

// serverDown records a shared server that refused or did not answer, in
// buurt's own words: the server's text can name its admin user, which is
// none of a team's business, so only the operator's log has it. Nothing the
// team has is taken away.
func (r *Reconciler) serverDown(ctx context.Context, s *scope, admin database.Admin, err error) {
	where := admin.Host + ":" + admin.Port
	switch {
	case database.IsAuthenticationFailure(err):
		r.cannotSee(s, teamsv1alpha1.AuthenticationFailedReason, fmt.Sprintf(
			"Shared database server %s refused the admin Secret's login; check its user and password", where))
	case database.IsUnreachable(err):
		r.cannotSee(s, teamsv1alpha1.ServerUnreachableReason, fmt.Sprintf(
			"Shared database server %s does not answer; buurt asks again", where))
	default:
		ctrl.LoggerFrom(ctx).Error(err, "The shared database server refused the team's database", "server", where)
		r.cannotSee(s, teamsv1alpha1.DatabaseUnavailableReason, fmt.Sprintf(
			"Shared database server %s %s; the operator's log has the server's words", where, database.Explain(err)))
	}
}

// conflicted records that the name buurt gives the team's database is taken
// on the server. The status does not name what holds it (it may be the
// admin user); the operator's log does.
func (r *Reconciler) conflicted(ctx context.Context, s *scope, admin database.Admin, conflict *database.ConflictError) {
	ctrl.LoggerFrom(ctx).Info("The team's database name is taken on the shared server", "server", admin.Host+":"+admin.Port,
		"conflict", conflict.Error())
	s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.DatabaseConflictReason,
		fmt.Sprintf("Shared database server %s:%s %s, and buurt does not take it over; %s",
			admin.Host, admin.Port, conflictWords(conflict), conflictFix(conflict)))
	s.requeue(r.ServerRetry)
}

// conflictWords says what holds the team's database name, without naming
// it.
func conflictWords(conflict *database.ConflictError) string {
	switch conflict.Whose {
	case database.AnotherTeams:
		return "has a role of the name buurt gives this team's database, made by buurt for another team"
	case database.Ambiguous:
		return "has several roles marked as this team's database"
	}
	return fmt.Sprintf("has a %s of the name buurt gives this team's database that buurt did not make for this team", conflict.Object)
}

// conflictFix says what to do about it.
func conflictFix(conflict *database.ConflictError) string {
	if conflict.Whose == database.Ambiguous {
		return "the server's admin should remove the mark (COMMENT ON ROLE) from all but this team's role; the operator's log names them"
	}
	return "give the team another name; the operator's log names the " + conflict.Object
}
