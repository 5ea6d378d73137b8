package team

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// BenchmarkScrape is one scrape of the per-team metrics of 1,200 teams with
// seven conditions and a quota of four resources each, encoded as
// Prometheus reads it: what a scrape costs the operator.
func BenchmarkScrape(b *testing.B) {
	lists := listReader{}
	for i := range 1200 {
		name := fmt.Sprintf("team-%04d", i)
		tm := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Neighbourhood: "riverside", Blueprint: "default", Coach: "jan",
				Members: []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna"}}}}
		tm.Status.Phase = teamsv1alpha1.TeamPhaseActive
		for _, c := range []string{"NamespaceReady", "AccessReady", "QuotaReady", "NetworkReady", "DatabaseReady", "AppsReady", "Ready"} {
			tm.Status.Conditions = append(tm.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue,
				Reason: "Reconciled", Message: "All is well", LastTransitionTime: metav1.Now()})
		}
		tm.Status.Credentials = &teamsv1alpha1.CredentialsStatus{LastRotationTime: &metav1.Time{Time: time.Now()}}
		tm.Status.Database = &teamsv1alpha1.TeamDatabaseStatus{Class: teamsv1alpha1.DatabaseClassShared, Name: name}
		tm.Status.Usage = &teamsv1alpha1.TeamUsage{DatabaseSize: resource.NewQuantity(8<<20, resource.BinarySI)}
		quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "team-" + name, Name: render.ResourceQuotaName,
			Labels: map[string]string{teamsv1alpha1.TeamLabel: name}}}
		quota.Status.Hard = corev1.ResourceList{"pods": resource.MustParse("20"), "requests.cpu": resource.MustParse("2"),
			"requests.memory": resource.MustParse("4Gi"), "requests.storage": resource.MustParse("20Gi")}
		quota.Status.Used = corev1.ResourceList{"pods": resource.MustParse("4"), "requests.cpu": resource.MustParse("400m"),
			"requests.memory": resource.MustParse("512Mi"), "requests.storage": resource.MustParse("0")}
		lists.teams.Items = append(lists.teams.Items, *tm)
		lists.quotas.Items = append(lists.quotas.Items, *quota)
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collector{reader: lists, now: time.Now})
	b.ResetTimer()
	for b.Loop() {
		families, err := registry.Gather()
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		for _, f := range families {
			if _, err := expfmt.MetricFamilyToText(&out, f); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(out.Len()), "bytes/scrape")
	}
}

// listReader lists what it holds without copying it, as the cache does for
// client.UnsafeDisableDeepCopy.
type listReader struct {
	teams  teamsv1alpha1.NeighbourhoodTeamList
	quotas corev1.ResourceQuotaList
}

func (r listReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return fmt.Errorf("not held")
}

func (r listReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	switch list := list.(type) {
	case *teamsv1alpha1.NeighbourhoodTeamList:
		*list = r.teams
	case *corev1.ResourceQuotaList:
		*list = r.quotas
	default:
		return fmt.Errorf("not held: %T", list)
	}
	return nil
}
