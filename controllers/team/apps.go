package team

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// reconcileApps runs the blueprint's apps and the team's own, stops the
// team's workloads while it is Dormant or Archived and brings them back
// after (workloads.go), prunes the apps it no longer runs, and reports each
// app's availability.
func (r *Reconciler) reconcileApps(ctx context.Context, s *scope) error {
	team := s.team
	class, _ := databaseClass(team, s.blueprint)
	set := render.Apps(team, s.blueprint, class != teamsv1alpha1.DatabaseClassNone)
	opts := render.AppOptions{Stopped: s.stopped()}
	if render.UsesDatabase(set.Apps) {
		// The database phase knows the Secret this pass, unless it could
		// not get that far.
		if s.databaseSecretHash != nil {
			opts.DatabaseSecretHash = *s.databaseSecretHash
		} else {
			secret, err := r.databaseSecret(ctx, s)
			if err != nil {
				return err
			}
			if secret.UID != "" {
				opts.DatabaseSecretHash = render.SecretHash(secret.Data)
			}
		}
	}
	if err := r.Applier.Apply(ctx, render.AppServiceAccount(team), &corev1.ServiceAccount{}); err != nil {
		return fmt.Errorf("failed to apply the apps' ServiceAccount of team %s: %w", klog.KObj(team), err)
	}

	apps, ingresses, declared := sets.New[string](), sets.New[string](), sets.New[string]()
	deployments := make([]*appsv1.Deployment, 0, len(set.Apps))
	for _, app := range set.Apps {
		deployment := &appsv1.Deployment{}
		if err := r.Applier.Apply(ctx, render.Deployment(team, app, opts), deployment); err != nil {
			return fmt.Errorf("failed to apply the Deployment of app %s of team %s: %w", app.Name, klog.KObj(team), err)
		}
		if err := r.Applier.Apply(ctx, render.AppService(team, app), &corev1.Service{}); err != nil {
			return fmt.Errorf("failed to apply the Service of app %s of team %s: %w", app.Name, klog.KObj(team), err)
		}
		if ingress := render.AppIngress(team, s.blueprint, app); ingress != nil {
			if err := r.Applier.Apply(ctx, ingress, &networkingv1.Ingress{}); err != nil {
				return fmt.Errorf("failed to apply the Ingress of app %s of team %s: %w", app.Name, klog.KObj(team), err)
			}
			ingresses.Insert(app.Name)
		}
		apps.Insert(app.Name)
		if app.Replicas != nil {
			declared.Insert(app.Name)
		}
		deployments = append(deployments, deployment)
	}
	if err := r.reconcileWorkloads(ctx, s, declared, deployments); err != nil {
		return err
	}
	statuses := make([]teamsv1alpha1.AppStatus, 0, len(set.Apps))
	var unavailable []string
	for i, app := range set.Apps {
		deployment := deployments[i]
		status := teamsv1alpha1.AppStatus{
			Name:              app.Name,
			DesiredReplicas:   *deployment.Spec.Replicas,
			AvailableReplicas: deployment.Status.AvailableReplicas,
		}
		if ingresses.Has(app.Name) {
			status.URL = "http://" + render.AppHost(team, s.blueprint, app)
		}
		statuses = append(statuses, status)
		if !available(deployment) {
			unavailable = append(unavailable, app.Name)
		}
	}
	if len(statuses) == 0 {
		statuses = nil
	}
	s.apps = &statuses

	components := render.AnyAppLabels(team)
	for _, prune := range []struct {
		list client.ObjectList
		keep sets.Set[string]
	}{
		{&appsv1.DeploymentList{}, apps}, {&corev1.ServiceList{}, apps}, {&networkingv1.IngressList{}, ingresses},
	} {
		if err := r.pruneMatching(ctx, team, prune.list, components, prune.keep); err != nil {
			return err
		}
	}
	setAppsReady(s, set, unavailable)
	return nil
}

// available is true when a Deployment's controller has seen its current
// spec and every replica it wants is updated and available.
func available(d *appsv1.Deployment) bool {
	want := *d.Spec.Replicas
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == want && d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

// setAppsReady reports what keeps apps from running first (the team's or
// blueprint's doing), then whether they are available.
func setAppsReady(s *scope, set render.AppSet, unavailable []string) {
	var problems []string
	reason := ""
	report := func(r, problem string) {
		if reason == "" {
			reason = r
		}
		problems = append(problems, problem)
	}
	for _, app := range set.ImagesNotAllowed {
		report(teamsv1alpha1.ImageNotAllowedReason, fmt.Sprintf("app %s is not deployed: its image %s is under none of the blueprint's allowedRegistries",
			app.Name, app.Image))
	}
	for _, name := range set.NameConflicts {
		report(teamsv1alpha1.AppNameConflictReason, fmt.Sprintf("the team's app %s is not deployed: the blueprint has an app of that name; rename the team's", name))
	}
	for _, name := range set.NeedDatabase {
		report(teamsv1alpha1.AppNeedsDatabaseReason, fmt.Sprintf("app %s is not deployed: it asks for the database and the team has none (class None)", name))
	}
	switch {
	case len(problems) > 0:
		s.found(teamsv1alpha1.AppsReadyCondition, metav1.ConditionFalse, reason, upperFirst(strings.Join(problems, "; ")))
	case s.stopped():
		state, reason := stoppedState(s), stoppedReason(s)
		if len(unavailable) > 0 {
			s.found(teamsv1alpha1.AppsReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AppsUnavailableReason,
				fmt.Sprintf("The team is %s; still scaling to zero: %s", state, strings.Join(unavailable, ", ")))
			return
		}
		s.found(teamsv1alpha1.AppsReadyCondition, metav1.ConditionTrue, reason,
			fmt.Sprintf("The team is %s: its %d apps are scaled to zero and its CronJobs suspended", state, len(set.Apps)))
	case len(set.Apps) == 0:
		s.found(teamsv1alpha1.AppsReadyCondition, metav1.ConditionTrue, teamsv1alpha1.NoAppsReason, "The team runs no apps")
	case len(unavailable) > 0:
		s.found(teamsv1alpha1.AppsReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AppsUnavailableReason,
			fmt.Sprintf("Not yet available: %s", strings.Join(unavailable, ", ")))
	default:
		s.found(teamsv1alpha1.AppsReadyCondition, metav1.ConditionTrue, teamsv1alpha1.AppsAvailableReason,
			fmt.Sprintf("All %d apps are available", len(set.Apps)))
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
