package localcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestSmoke proves what envtest cannot: on the local cluster a Deployment's
// pods are scheduled and it becomes Available, and a deleted namespace is
// really gone once its contents are.
func TestSmoke(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	binDir := os.Getenv("KUBEBUILDER_ASSETS")
	if binDir == "" {
		t.Fatal(testenv.ErrNoAssets)
	}
	cluster, err := localcluster.Create(ctx, localcluster.Options{
		Name: "smoke", BinDir: binDir, WorkDir: t.TempDir(), Nodes: 2,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if t.Failed() {
			dir := filepath.Join(os.TempDir(), "buurt-test-logs", t.Name())
			if err := cluster.ExportLogs(context.Background(), dir); err != nil {
				t.Logf("could not keep the cluster's logs: %v", err)
			} else {
				t.Logf("the local cluster's logs are in %s", dir)
			}
		}
		g.Expect(cluster.Delete(context.Background())).To(Succeed())
	})
	cfg, err := cluster.Config()
	g.Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	g.Expect(err).NotTo(HaveOccurred())

	nodes := &corev1.NodeList{}
	g.Expect(c.List(ctx, nodes)).To(Succeed())
	g.Expect(nodes.Items).To(HaveLen(2))

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}
	g.Expect(c.Create(ctx, ns)).To(Succeed())
	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns.Name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example.org/web:1"}}},
			},
		},
	}
	g.Expect(c.Create(ctx, deploy)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(deploy), deploy)).To(Succeed())
		g.Expect(deploy.Status.AvailableReplicas).To(Equal(int32(2)))
		g.Expect(deploy.Status.Conditions).To(ContainElement(And(
			HaveField("Type", appsv1.DeploymentAvailable),
			HaveField("Status", corev1.ConditionTrue),
		)))
	}).WithTimeout(time.Minute).Should(Succeed())

	pods := &corev1.PodList{}
	g.Expect(c.List(ctx, pods, client.InNamespace(ns.Name))).To(Succeed())
	g.Expect(pods.Items).To(HaveLen(2))
	for _, pod := range pods.Items {
		g.Expect(pod.Spec.NodeName).NotTo(BeEmpty(), "pod %s was not scheduled", pod.Name)
		g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning))
	}

	g.Expect(c.Delete(ctx, ns)).To(Succeed())
	g.Eventually(func() error {
		return c.Get(ctx, client.ObjectKeyFromObject(ns), ns)
	}).WithTimeout(2 * time.Minute).Should(Satisfy(apierrors.IsNotFound))
	g.Expect(c.List(ctx, pods, client.InNamespace(ns.Name))).To(Succeed())
	g.Expect(pods.Items).To(BeEmpty())
}
