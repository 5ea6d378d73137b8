package team

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/patch"
	"github.com/buurt-dev/buurt/internal/render"
)

// reconcileDedicated runs the team's own PostgreSQL in its namespace.
func (r *Reconciler) reconcileDedicated(ctx context.Context, s *scope) error {
	team := s.team
	if err := patch.AddFinalizer(ctx, r.Client, team, DatabaseFinalizer); err != nil {
		return err
	}
	secret, err := r.databaseSecret(ctx, s)
	if err != nil {
		return err
	}
	// The Secret is the source of truth for the password: the server sets
	// it from there each time it starts, and a new Secret (with a new UID)
	// or a rotation restarts it (dedicatedRestartKey), which also ends every
	// session opened with the old password.
	password := string(secret.Data["password"])
	s.rotationDue = r.rotationDue(s)
	rotate := password == "" || s.rotationDue != ""
	if rotate {
		if password, err = database.NewPassword(); err != nil {
			return err
		}
	}
	name := database.Name(team.Name)
	applied, err := r.applyDatabaseSecret(ctx, s, render.Connection{
		Host: render.DedicatedHost(team), Port: render.DedicatedPort, DBName: name, User: name, Password: password, SSLMode: "disable",
	}, secret)
	if err != nil {
		return err
	}
	if rotate {
		r.passwordMade(ctx, s, madeReason(team, s.rotationDue), "")
	} else {
		passwordKept(s, applied)
	}
	hash := render.SecretHash(applied.Data)
	s.databaseSecretHash = &hash
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
	if err := r.Applier.Apply(ctx, render.DedicatedStatefulSet(team, s.blueprint, dedicatedRestartKey(s, applied), storage, s.stopped()), sts); err != nil {
		return fmt.Errorf("failed to apply the database StatefulSet of team %s: %w", klog.KObj(team), err)
	}
	if _, err := r.reconcileVolumes(ctx, team, reclaimPolicy(team, s.blueprint)); err != nil {
		return err
	}
	provisioned := &teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassDedicated, Name: name, SecretName: render.DatabaseSecretName(team),
	}
	s.database = &provisioned
	if s.stopped() {
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, stoppedReason(s), fmt.Sprintf(
			"The team's PostgreSQL is stopped while the team is %s; its volume and data are kept%s", stoppedState(s), stoppedNote(s)+note))
		return nil
	}
	if sts.Status.ReadyReplicas < 1 {
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.ProvisioningReason,
			"The team's PostgreSQL is starting"+note)
		return nil
	}
	s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason,
		fmt.Sprintf("Database %s runs in the team's namespace; connection in Secret %s%s", name, render.DatabaseSecretName(team), note))
	return nil
}

// dedicatedRestartKey is what a Dedicated database's pod template carries of
// its password, so that the server restarts, and takes the password from
// the Secret, whenever the password is made anew: the Secret's UID (a new
// Secret), and the time of the last rotation that kept the Secret. A
// database whose password was only ever made with its Secret carries the
// UID alone, as before rotations existed.
func dedicatedRestartKey(s *scope, secret *corev1.Secret) string {
	key := string(secret.UID)
	c := s.credentialsNow()
	if c == nil || c.LastRotationTime == nil {
		return key
	}
	switch c.LastRotationReason {
	case teamsv1alpha1.RotationCreated, teamsv1alpha1.RotationSecretDeleted:
		return key
	}
	return key + "/" + c.LastRotationTime.UTC().Format(time.RFC3339)
}
