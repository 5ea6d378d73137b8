package blueprint

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/conditions"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/message"
)

// hardeningTimeout bounds one check of a shared server: reading its admin
// Secret and asking the server. The server's own calls have shorter
// deadlines (package database).
const hardeningTimeout = 10 * time.Second

// hardening is what a check of a shared server found, for the
// DatabaseServerHardened condition.
type hardening struct {
	status          metav1.ConditionStatus
	reason, message string
}

// hardening is what is known of whether the blueprint's shared server keeps
// teams out of its maintenance databases; nil for a blueprint that names no
// shared server.
func (r *Reconciler) hardening(ctx context.Context, blueprint *teamsv1alpha1.TeamBlueprint) *hardening {
	name := blueprint.Spec.Database.Shared.AdminSecretName
	if name == "" {
		return nil
	}
	// The server is asked at most once per HardeningInterval, by admin
	// Secret.
	found, _ := r.checks.get(name, r.HardeningInterval, func() (hardening, error) { return r.checkServer(ctx, name), nil })
	return &found
}

// checkServer asks the server behind admin Secret name, read past the cache
// (which holds only buurt's own Secrets), whether PUBLIC may connect to its
// maintenance databases. What keeps buurt from asking is Unknown.
func (r *Reconciler) checkServer(ctx context.Context, name string) hardening {
	ctx, cancel := context.WithTimeout(ctx, hardeningTimeout)
	defer cancel()
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return hardening{metav1.ConditionUnknown, teamsv1alpha1.AdminSecretMissingReason, fmt.Sprintf(
				"Secret %s/%s with the shared server's admin connection does not exist; buurt cannot check the server", r.Namespace, name)}
		}
		ctrl.LoggerFrom(ctx).Error(err, "Failed to read an admin Secret to check its server", "secret", name)
		return hardening{metav1.ConditionUnknown, teamsv1alpha1.ReconcileErrorReason,
			fmt.Sprintf("buurt could not read Secret %s/%s to check the shared server; it tries again", r.Namespace, name)}
	}
	admin, bad := database.ParseAdmin(secret.Data)
	if bad != "" {
		return hardening{metav1.ConditionUnknown, teamsv1alpha1.AdminSecretInvalidReason, fmt.Sprintf(
			"Secret %s/%s has no valid %q; buurt cannot check the shared server", r.Namespace, name, bad)}
	}
	where := admin.Host + ":" + admin.Port
	server, err := r.Databases.Get(ctx, admin)
	if err != nil {
		return hardening{metav1.ConditionUnknown, teamsv1alpha1.AdminSecretInvalidReason, fmt.Sprintf(
			"Secret %s/%s does not make a valid connection; buurt cannot check the shared server", r.Namespace, name)}
	}
	open, err := server.PublicCanConnect(ctx)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to check a shared server's maintenance databases", "server", where)
		return hardening{metav1.ConditionUnknown, unknownReason(err), fmt.Sprintf(
			"buurt cannot check shared database server %s: it %s", where, database.Explain(err))}
	}
	if len(open) > 0 {
		return hardening{metav1.ConditionFalse, teamsv1alpha1.PublicCanConnectReason, fmt.Sprintf(
			"Every role on shared database server %s, every team's included, may connect to its maintenance databases %s; "+
				"the server's admin should run REVOKE CONNECT ON DATABASE %s FROM PUBLIC and grant CONNECT on postgres "+
				"to buurt's admin user (docs/databases.md)", where, message.List(open), strings.Join(open, ", "))}
	}
	return hardening{metav1.ConditionTrue, teamsv1alpha1.PublicConnectRevokedReason, fmt.Sprintf(
		"Only roles granted CONNECT may connect to databases postgres and template1 on shared database server %s", where)}
}

// unknownReason is the reason for a server buurt could not ask.
func unknownReason(err error) string {
	switch {
	case database.IsAuthenticationFailure(err):
		return teamsv1alpha1.AuthenticationFailedReason
	case database.IsUnreachable(err):
		return teamsv1alpha1.ServerUnreachableReason
	default:
		return teamsv1alpha1.DatabaseUnavailableReason
	}
}

// setHardening sets the DatabaseServerHardened condition from what was
// found, or removes it from a blueprint that names no shared server.
func setHardening(blueprint *teamsv1alpha1.TeamBlueprint, found *hardening) {
	if found == nil {
		meta.RemoveStatusCondition(&blueprint.Status.Conditions, teamsv1alpha1.DatabaseServerHardenedCondition)
		return
	}
	conditions.Set(&blueprint.Status.Conditions, blueprint.Generation, teamsv1alpha1.DatabaseServerHardenedCondition,
		found.status, found.reason, found.message)
}
