package blueprint_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// docsSQL is the SQL docs/databases.md tells the server's admin to run.
func docsSQL(g Gomega) string {
	doc, err := os.ReadFile("../../docs/databases.md")
	g.Expect(err).NotTo(HaveOccurred())
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllSubmatch(doc, -1)
	g.Expect(blocks).To(HaveLen(1))
	return string(blocks[0][1])
}

func sharedBlueprint(t *testing.T, name, adminSecret string) *teamsv1alpha1.TeamBlueprint {
	t.Helper()
	bp := testenv.DesignBlueprint(name)
	bp.Spec.Database = teamsv1alpha1.BlueprintDatabase{
		Class:         teamsv1alpha1.DatabaseClassShared,
		ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain,
		Shared:        teamsv1alpha1.SharedDatabase{AdminSecretName: adminSecret},
	}
	NewWithT(t).Expect(env.Client.Create(context.Background(), bp)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), bp) })
	return bp
}

func adminSecret(t *testing.T, name, user, password string, port int) {
	t.Helper()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.OperatorNamespace, Name: name},
		StringData: map[string]string{"host": pg.Host, "port": strconv.Itoa(port), "user": user, "password": password, "sslmode": "disable"},
	}
	NewWithT(t).Expect(env.Client.Create(context.Background(), secret)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), secret) })
}

// expectHardened waits until the blueprint's DatabaseServerHardened
// condition is exactly this, with Ready True all along.
func expectHardened(t *testing.T, bp *teamsv1alpha1.TeamBlueprint, status metav1.ConditionStatus, reason, message string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		got := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(bp), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, teamsv1alpha1.DatabaseServerHardenedCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(*c).To(Equal(metav1.Condition{
			Type: teamsv1alpha1.DatabaseServerHardenedCondition, Status: status, Reason: reason, Message: message,
			ObservedGeneration: got.Generation, LastTransitionTime: c.LastTransitionTime,
		}))
		g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, teamsv1alpha1.ReadyCondition)).To(BeTrue(), "a warning, not a failure")
	}).WithTimeout(30 * time.Second).Should(Succeed())
}

// TestBlueprintReportsWhetherItsServerIsHardened: a fresh server lets every
// role into postgres and template1, and the blueprint says so, once in an
// Event; after the admin runs what docs/databases.md says — here for an
// admin user that is not a superuser, which then still connects — it says
// the server is hardened.
func TestBlueprintReportsWhetherItsServerIsHardened(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	su, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	// docs_admin stands for the docs' buurt_admin: the least an admin needs.
	_, err = su.Exec(ctx, "CREATE ROLE docs_admin LOGIN CREATEROLE CREATEDB PASSWORD 'docs-admin'")
	g.Expect(err).NotTo(HaveOccurred())
	adminSecret(t, "pg-hardening", "docs_admin", "docs-admin", pg.Port)
	bp := sharedBlueprint(t, "hardening", "pg-hardening")

	open := fmt.Sprintf("Every role on shared database server 127.0.0.1:%d, every team's included, may connect to its maintenance databases "+
		"postgres, template1; the server's admin should run REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC "+
		"and grant CONNECT on postgres to buurt's admin user (docs/databases.md)", pg.Port)
	expectHardened(t, bp, metav1.ConditionFalse, teamsv1alpha1.PublicCanConnectReason, open)

	sql := strings.ReplaceAll(docsSQL(g), "buurt_admin", "docs_admin")
	_, err = su.Exec(ctx, sql)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _, _ = su.Exec(ctx, "GRANT CONNECT ON DATABASE postgres, template1 TO PUBLIC") })
	expectHardened(t, bp, metav1.ConditionTrue, teamsv1alpha1.PublicConnectRevokedReason, fmt.Sprintf(
		"Only roles granted CONNECT may connect to databases postgres and template1 on shared database server 127.0.0.1:%d", pg.Port))

	events := &eventsv1.EventList{}
	g.Expect(env.Client.List(ctx, events)).To(Succeed())
	var notes []string
	for _, e := range events.Items {
		if e.Regarding.UID == bp.UID {
			notes = append(notes, e.Type+" "+e.Reason+": "+e.Note)
		}
	}
	g.Expect(notes).To(HaveExactElements(corev1.EventTypeWarning + " PublicCanConnect: " + open))
}

// A server buurt cannot ask leaves the condition Unknown, saying why in
// buurt's words, and the blueprint Ready.
func TestBlueprintCannotCheckItsServer(t *testing.T) {
	closed, err := freeport.Get()
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	adminSecret(t, "pg-hardening-down", "buurt_admin", pg.Password, closed)
	adminSecret(t, "pg-hardening-refused", "no_such_admin", pg.Password, pg.Port)
	for _, tc := range []struct {
		secret, reason, message string
	}{
		{"pg-hardening-down", teamsv1alpha1.ServerUnreachableReason,
			fmt.Sprintf("buurt cannot check shared database server 127.0.0.1:%d: it does not answer", closed)},
		{"pg-hardening-refused", teamsv1alpha1.AuthenticationFailedReason,
			fmt.Sprintf("buurt cannot check shared database server 127.0.0.1:%d: it refused the admin Secret's login", pg.Port)},
		{"pg-hardening-missing", teamsv1alpha1.AdminSecretMissingReason,
			"Secret buurt-system/pg-hardening-missing with the shared server's admin connection does not exist; buurt cannot check the server"},
	} {
		t.Run(tc.secret, func(t *testing.T) {
			bp := sharedBlueprint(t, tc.secret, tc.secret)
			expectHardened(t, bp, metav1.ConditionUnknown, tc.reason, tc.message)
		})
	}
}
