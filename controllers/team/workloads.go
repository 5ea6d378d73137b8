package team

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/message"
	"github.com/buurt-dev/buurt/internal/render"
)

// A stopped team (Dormant, by hand or by its schedule, or Archived) has every
// workload in its namespace stopped: each Deployment and StatefulSet scaled
// to zero, each CronJob suspended, what it had recorded on it first
// (AwakeReplicasAnnotation, AwakeSuspendAnnotation), in the same write, so
// that waking brings back exactly that. Two kinds of workload are buurt's
// to scale in its own apply: its apps that declare replicas, and a
// Dedicated database. The namespace's SleepAnnotation says that there is
// something to bring back; it is set before the first workload stops and
// taken off after the last comes back, so a pass that crashes in between
// is finished by the next, whatever the schedule says by then.

// sleepFieldOwner is the field manager of what sleep writes: the recorded
// values and the replicas and suspend it sets. Apart from buurt's own
// apply, so that an app whose replicas buurt does not declare keeps the
// replicas sleep gave it back.
const sleepFieldOwner = "buurt-sleep"

// workload is one object sleep stops and brings back.
type workload struct {
	kind, name string
	// stopped is true when it carries what it had before it was stopped.
	stopped bool
	// stop and wake are the applies that stop it (recording what it had)
	// and bring it back.
	stop, wake func() runtime.ApplyConfiguration
}

// reconcileWorkloads stops or brings back the team's workloads as the pass
// says (s.stopped), and stops the apps this pass applied (made: their
// Deployments as applied) while the team is stopped. made is left holding
// the Deployments as they now are.
func (r *Reconciler) reconcileWorkloads(ctx context.Context, s *scope, declared sets.Set[string], made []*appsv1.Deployment) (reterr error) {
	team := s.team
	switch {
	case s.stopped() && s.sleepMark == teamsv1alpha1.SleepStopped:
		// Only an app added while stopped can be running.
		for i, d := range made {
			if declared.Has(d.Name) || d.Annotations[teamsv1alpha1.AwakeReplicasAnnotation] != "" {
				continue
			}
			live := &appsv1.Deployment{}
			if err := r.sleepApply(ctx, stopDeployment(d), live); err != nil {
				return err
			}
			made[i] = live
		}
		return nil
	case s.stopped():
		defer func() { reterr = errors.Join(reterr, r.reread(ctx, team, made)) }()
		if err := r.markSleep(ctx, team, teamsv1alpha1.SleepStopping); err != nil {
			return err
		}
		all, err := r.workloads(ctx, team, declared)
		if err != nil {
			return err
		}
		var stopped []string
		for _, w := range all {
			if w.stopped {
				continue
			}
			if err := r.sleepApply(ctx, w.stop(), nil); err != nil {
				return fmt.Errorf("failed to stop %s %s of team %s: %w", w.kind, w.name, klog.KObj(team), err)
			}
			stopped = append(stopped, w.kind+" "+w.name)
		}
		if err := r.markSleep(ctx, team, teamsv1alpha1.SleepStopped); err != nil {
			return err
		}
		if len(stopped) > 0 {
			r.Recorder.Eventf(ctx, team, nil, corev1.EventTypeNormal, teamsv1alpha1.FellAsleepReason, "Reconcile",
				"Stopped %s (%s); each carries what it had (annotation %s or %s) and gets it back when the team wakes",
				message.Count(len(stopped), "workload"), message.List(stopped), teamsv1alpha1.AwakeReplicasAnnotation, teamsv1alpha1.AwakeSuspendAnnotation)
		}
	case s.sleepMark != "":
		defer func() { reterr = errors.Join(reterr, r.reread(ctx, team, made)) }()
		all, err := r.workloads(ctx, team, nil)
		if err != nil {
			return err
		}
		var woken []string
		for _, w := range all {
			if !w.stopped {
				continue
			}
			if err := r.sleepApply(ctx, w.wake(), nil); err != nil {
				return fmt.Errorf("failed to bring back %s %s of team %s: %w", w.kind, w.name, klog.KObj(team), err)
			}
			woken = append(woken, w.kind+" "+w.name)
		}
		if err := r.markSleep(ctx, team, ""); err != nil {
			return err
		}
		if len(woken) > 0 {
			r.Recorder.Eventf(ctx, team, nil, corev1.EventTypeNormal, teamsv1alpha1.WokeUpReason, "Reconcile",
				"Brought back %s as they were: %s", message.Count(len(woken), "workload"), message.List(woken))
		}
	}
	return nil
}

// reread reads the apps' Deployments again, past the cache, after sleep
// stopped or brought back the team's workloads: the apps' status follows
// what they are now.
func (r *Reconciler) reread(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, made []*appsv1.Deployment) error {
	for i, d := range made {
		live := &appsv1.Deployment{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
			return fmt.Errorf("failed to read app %s of team %s: %w", d.Name, klog.KObj(team), err)
		}
		made[i] = live
	}
	return nil
}

// workloads lists, past the cache (only buurt's own are cached), what sleep
// stops in the team's namespace: every Deployment but the apps whose
// replicas buurt declares (declared), every StatefulSet but the Dedicated
// database, every CronJob.
func (r *Reconciler) workloads(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, declared sets.Set[string]) ([]workload, error) {
	in := client.InNamespace(team.NamespaceName())
	deployments, statefulSets, cronJobs := &appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &batchv1.CronJobList{}
	for _, list := range []client.ObjectList{deployments, statefulSets, cronJobs} {
		if err := r.APIReader.List(ctx, list, in); err != nil {
			return nil, fmt.Errorf("failed to list the workloads of team %s: %w", klog.KObj(team), err)
		}
	}
	var out []workload
	for i := range deployments.Items {
		d := &deployments.Items[i]
		if declared.Has(d.Name) && d.Labels[teamsv1alpha1.ComponentLabel] == teamsv1alpha1.ComponentApp {
			continue
		}
		out = append(out, workload{kind: "Deployment", name: d.Name, stopped: recorded(d),
			stop: func() runtime.ApplyConfiguration { return stopDeployment(d) },
			wake: func() runtime.ApplyConfiguration {
				return appsv1ac.Deployment(d.Name, d.Namespace).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(awakeReplicas(d)))
			}})
	}
	for i := range statefulSets.Items {
		set := &statefulSets.Items[i]
		if set.Name == render.DedicatedDatabaseName && set.Labels[teamsv1alpha1.TeamLabel] == team.Name {
			continue
		}
		out = append(out, workload{kind: "StatefulSet", name: set.Name, stopped: recorded(set),
			stop: func() runtime.ApplyConfiguration {
				return appsv1ac.StatefulSet(set.Name, set.Namespace).WithResourceVersion(set.ResourceVersion).
					WithAnnotations(map[string]string{teamsv1alpha1.AwakeReplicasAnnotation: strconv.Itoa(int(replicasOf(set.Spec.Replicas)))}).
					WithSpec(appsv1ac.StatefulSetSpec().WithReplicas(0))
			},
			wake: func() runtime.ApplyConfiguration {
				return appsv1ac.StatefulSet(set.Name, set.Namespace).WithSpec(appsv1ac.StatefulSetSpec().WithReplicas(awakeReplicas(set)))
			}})
	}
	for i := range cronJobs.Items {
		job := &cronJobs.Items[i]
		suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
		out = append(out, workload{kind: "CronJob", name: job.Name, stopped: job.Annotations[teamsv1alpha1.AwakeSuspendAnnotation] != "",
			stop: func() runtime.ApplyConfiguration {
				return batchv1ac.CronJob(job.Name, job.Namespace).WithResourceVersion(job.ResourceVersion).
					WithAnnotations(map[string]string{teamsv1alpha1.AwakeSuspendAnnotation: strconv.FormatBool(suspended)}).
					WithSpec(batchv1ac.CronJobSpec().WithSuspend(true))
			},
			wake: func() runtime.ApplyConfiguration {
				was := job.Annotations[teamsv1alpha1.AwakeSuspendAnnotation] == "true"
				return batchv1ac.CronJob(job.Name, job.Namespace).WithSpec(batchv1ac.CronJobSpec().WithSuspend(was))
			}})
	}
	return out, nil
}

// stopDeployment records d's replicas on it and scales it to zero, in one
// write that holds only if d is still as read.
func stopDeployment(d *appsv1.Deployment) *appsv1ac.DeploymentApplyConfiguration {
	return appsv1ac.Deployment(d.Name, d.Namespace).WithResourceVersion(d.ResourceVersion).
		WithAnnotations(map[string]string{teamsv1alpha1.AwakeReplicasAnnotation: strconv.Itoa(int(replicasOf(d.Spec.Replicas)))}).
		WithSpec(appsv1ac.DeploymentSpec().WithReplicas(0))
}

// recorded is true for a workload that carries the replicas it had.
func recorded(o client.Object) bool {
	return o.GetAnnotations()[teamsv1alpha1.AwakeReplicasAnnotation] != ""
}

// awakeReplicas is what a stopped workload had; 1 should its record have
// been changed into something that is no count.
func awakeReplicas(o client.Object) int32 {
	n, err := strconv.ParseInt(o.GetAnnotations()[teamsv1alpha1.AwakeReplicasAnnotation], 10, 32)
	if err != nil || n < 0 {
		return 1
	}
	return int32(n)
}

// replicasOf is a workload's spec.replicas; the apiserver defaults it to 1.
func replicasOf(replicas *int32) int32 {
	if replicas == nil {
		return 1
	}
	return *replicas
}

// markSleep sets the namespace's SleepAnnotation to value, or takes it off
// for "".
func (r *Reconciler) markSleep(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, value string) error {
	ns := corev1ac.Namespace(team.NamespaceName())
	if value != "" {
		ns.WithAnnotations(map[string]string{teamsv1alpha1.SleepAnnotation: value})
	}
	if err := r.sleepApply(ctx, ns, nil); err != nil {
		return fmt.Errorf("failed to mark the namespace of team %s as %q: %w", klog.KObj(team), value, err)
	}
	return nil
}

// sleepApply applies what sleep writes, as its own field manager, and fills
// live when it is not nil.
func (r *Reconciler) sleepApply(ctx context.Context, desired runtime.ApplyConfiguration, live client.Object) error {
	return r.Applier.ApplyAs(ctx, sleepFieldOwner, desired, live)
}
