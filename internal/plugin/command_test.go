package plugin_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/plugin"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestDescribeAndCoach runs kubectl buurt describe and coach against a real
// apiserver holding a team, its quota and its coach, with the status buurt
// writes, and compares what they print with golden files.
func TestDescribeAndCoach(t *testing.T) {
	g := NewWithT(t)
	env, kubeconfig := testenv.StartForTest(t)
	ctx := context.Background()
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

	g.Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-north-riverside"}})).To(Succeed())
	team := &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: "north-riverside"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside", Blueprint: "default", Coach: "jan",
			Members: []teamsv1alpha1.Subject{
				{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna@care.example.org"},
				{Kind: teamsv1alpha1.SubjectKindGroup, Name: "north-riverside-nurses"},
			},
			Apps: []teamsv1alpha1.App{{Name: "rooster", Image: "ghcr.io/care/rooster:1.4", Port: 8080}, {Name: "wiki", Image: "ghcr.io/care/wiki:2", Port: 8080}},
		},
	}
	g.Expect(env.Client.Create(ctx, team)).To(Succeed())
	wake := metav1.NewTime(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC))
	team.Status = teamsv1alpha1.NeighbourhoodTeamStatus{
		Phase: teamsv1alpha1.TeamPhaseDegraded, Namespace: "team-north-riverside", MemberCount: 2,
		Conditions: []metav1.Condition{
			{Type: "Ready", Status: "False", Reason: "AppsUnavailable", LastTransitionTime: ago(12 * time.Minute),
				Message: "App wiki has 0 of 1 replicas available"},
			{Type: "NamespaceReady", Status: "True", Reason: "Reconciled", LastTransitionTime: ago(72 * time.Hour), Message: "Namespace team-north-riverside is ready"},
			{Type: "AccessReady", Status: "True", Reason: "Reconciled", LastTransitionTime: ago(72 * time.Hour), Message: "2 members have access"},
			{Type: "DatabaseReady", Status: "True", Reason: "Provisioned", LastTransitionTime: ago(72 * time.Hour), Message: "Database north_riverside is ready"},
			{Type: "AppsReady", Status: "False", Reason: "AppsUnavailable", LastTransitionTime: ago(12 * time.Minute), Message: "App wiki has 0 of 1 replicas available"},
			{Type: "CoachAssigned", Status: "True", Reason: "CoachAccepted", LastTransitionTime: ago(48 * time.Hour), Message: "Coach jan supports the team"},
		},
		Members: []teamsv1alpha1.MemberStatus{
			{Subject: team.Spec.Members[0], Access: teamsv1alpha1.MemberAccessGranted},
			{Subject: team.Spec.Members[1], Access: teamsv1alpha1.MemberAccessPending},
		},
		Database: &teamsv1alpha1.TeamDatabaseStatus{Class: teamsv1alpha1.DatabaseClassShared, Name: "north_riverside", SecretName: "buurt-db"}, //nolint:gosec // a Secret's name
		Credentials: &teamsv1alpha1.CredentialsStatus{
			LastRotationTime: ptrTo(ago(50 * time.Hour)), LastRotationReason: teamsv1alpha1.RotationMemberRemoved,
		},
		Apps: []teamsv1alpha1.AppStatus{
			{Name: "rooster", DesiredReplicas: 2, AvailableReplicas: 2, URL: "https://rooster.north-riverside.care.example.org"},
			{Name: "wiki", DesiredReplicas: 1},
		},
		Sleep: &teamsv1alpha1.SleepStatus{State: teamsv1alpha1.SleepStateAsleep, NextTransitionTime: &wake},
	}
	g.Expect(env.Client.Status().Update(ctx, team)).To(Succeed())
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-north-riverside", Name: "buurt-quota"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			"requests.cpu": resource.MustParse("2"), "requests.memory": resource.MustParse("4Gi"), "pods": resource.MustParse("20"),
		}},
	}
	g.Expect(env.Client.Create(ctx, quota)).To(Succeed())
	quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{
		"requests.cpu": resource.MustParse("750m"), "requests.memory": resource.MustParse("1536Mi"), "pods": resource.MustParse("3"),
	}}
	g.Expect(env.Client.Status().Update(ctx, quota)).To(Succeed())

	jan := &teamsv1alpha1.Coach{
		ObjectMeta: metav1.ObjectMeta{Name: "jan"},
		Spec:       teamsv1alpha1.CoachSpec{Subject: teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: "jan@care.example.org"}, MaxTeams: 2},
	}
	g.Expect(env.Client.Create(ctx, jan)).To(Succeed())
	jan.Status = teamsv1alpha1.CoachStatus{
		Teams: []string{"north-riverside", "south-harbour"}, TeamCount: 2, WaitingTeams: []string{"west-dunes"},
		Conditions: []metav1.Condition{
			{Type: "Ready", Status: "True", Reason: "Reconciled", LastTransitionTime: ago(48 * time.Hour), Message: "The coach has read access to 2 teams"},
			{Type: "AtCapacity", Status: "True", Reason: "CapacityReached", LastTransitionTime: ago(3 * time.Hour),
				Message: "Supports 2 of at most 2 teams; waiting: west-dunes"},
		},
	}
	g.Expect(env.Client.Status().Update(ctx, jan)).To(Succeed())

	for _, tc := range []struct {
		file string
		args []string
	}{
		{"describe.txt", []string{"describe", "north-riverside"}},
		{"describe.yaml", []string{"describe", "north-riverside", "-o", "yaml"}},
		// south-harbour is gone since the coach's status was written.
		{"coach.txt", []string{"coach", "jan"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var out bytes.Buffer
			cmd := plugin.Command(&out, func() time.Time { return now })
			cmd.SetArgs(append(tc.args, "--kubeconfig", kubeconfig))
			NewWithT(t).Expect(cmd.Execute()).To(Succeed())
			golden(t, tc.file, stripServerFields(out.Bytes()))
		})
	}

	// Someone else's or a missing team is one error, the same.
	var out, errOut bytes.Buffer
	cmd := plugin.Command(&out, func() time.Time { return now })
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"describe", "nowhere", "--kubeconfig", kubeconfig})
	g.Expect(cmd.Execute()).To(MatchError("team nowhere: not found, or not yours to see; kubectl buurt mine lists the teams you have a part in"))
	g.Expect(out.String()).To(BeEmpty())
}

// TestSaysWhenMyBuurtIsMissing: against a real apiserver, kubectl buurt
// mine says the same, in its own words, whether buurt's API is not
// installed or registered with no endpoint behind it.
func TestSaysWhenMyBuurtIsMissing(t *testing.T) {
	g := NewWithT(t)
	env, kubeconfig := testenv.StartForTest(t)
	ctx := context.Background()
	mine := func() (string, error) {
		var out, errOut bytes.Buffer
		cmd := plugin.Command(&out, func() time.Time { return now })
		cmd.SetErr(&errOut)
		cmd.SetArgs([]string{"mine", "--kubeconfig", kubeconfig})
		err := cmd.Execute()
		return out.String(), err
	}

	const missing = "buurt's API my.buurt.dev is not answering on this cluster; " +
		"ask a platform engineer whether buurt-api is installed and running (kubectl get apiservice v1alpha1.my.buurt.dev)"
	out, err := mine()
	g.Expect(err).To(MatchError(missing))
	g.Expect(out).To(BeEmpty())

	// Registered, but its Service leads nowhere: the apiserver answers 503.
	g.Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "buurt-system"}})).To(Succeed())
	g.Expect(env.Client.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "buurt-api", Namespace: "buurt-system"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 443}}},
	})).To(Succeed())
	api := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1alpha1.my.buurt.dev"},
		"spec": map[string]any{
			"group": "my.buurt.dev", "version": "v1alpha1", "insecureSkipTLSVerify": true,
			"groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
			"service": map[string]any{"namespace": "buurt-system", "name": "buurt-api"},
		},
	}}
	g.Expect(env.Client.Create(ctx, api)).To(Succeed())
	g.Eventually(func(g Gomega) {
		var status struct {
			Conditions []metav1.Condition `json:"conditions"`
		}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(api), api)).To(Succeed())
		g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(api.Object["status"].(map[string]any), &status)).To(Succeed())
		g.Expect(status.Conditions).To(ContainElement(And(
			HaveField("Type", "Available"), HaveField("Status", metav1.ConditionFalse))))
	}).WithTimeout(time.Minute).Should(Succeed())
	out, err = mine()
	g.Expect(err).To(MatchError(missing))
	g.Expect(out).To(BeEmpty())
}

func ptrTo[T any](v T) *T { return &v }

// stripServerFields drops what the apiserver makes up (uid,
// resourceVersion, creationTimestamp, generation, managedFields) from YAML
// output, so that it compares with a golden file.
func stripServerFields(out []byte) []byte {
	var kept [][]byte
	skipping, skipIndent := false, 0
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		trimmed := bytes.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		// What is under a dropped field: deeper, or its list's items.
		if skipping && (indent > skipIndent || indent == skipIndent && bytes.HasPrefix(trimmed, []byte("- "))) {
			continue
		}
		skipping = false
		for _, field := range []string{"uid:", "resourceVersion:", "creationTimestamp:", "generation:", "managedFields:"} {
			if bytes.HasPrefix(trimmed, []byte(field)) {
				skipping, skipIndent = true, indent
			}
		}
		if !skipping {
			kept = append(kept, line)
		}
	}
	return bytes.Join(kept, nil)
}

// docs/myteams.md shows describe's and coach's output as the golden files
// have it.
func TestDocShowsTheGoldenOutput(t *testing.T) {
	g := NewWithT(t)
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "myteams.md"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, file := range []string{"describe.txt", "coach.txt"} {
		want, err := os.ReadFile(filepath.Join("testdata", file)) //nolint:gosec // a golden file of this package
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(doc)).To(ContainSubstring("```\n"+string(want)+"```\n"), "docs/myteams.md shows testdata/%s", file)
	}
}
