//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// mayReadSecrets asks the apiserver whether user may read the Secrets of
// namespace, as the team's members may.
func mayReadSecrets(g Gomega, user, namespace string) bool {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "get", Resource: "secrets"},
	}}
	g.Expect(admin.Create(context.Background(), review)).To(Succeed())
	return review.Status.Allowed
}

// docBlock is a fenced block of a doc: its language and its text.
type docBlock struct{ lang, body string }

var fence = regexp.MustCompile("(?s)```([a-z]*)\n(.*?)```")

// fencedBlocks are the fenced blocks of docs/<doc> before the heading until
// (all of them when until is "").
func fencedBlocks(t *testing.T, doc, until string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", doc))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	text := string(data)
	if until != "" {
		var found bool
		text, _, found = strings.Cut(text, until)
		NewWithT(t).Expect(found).To(BeTrue(), "docs/%s has no %q", doc, until)
	}
	var blocks []docBlock
	for _, m := range fence.FindAllStringSubmatch(text, -1) {
		blocks = append(blocks, docBlock{lang: m[1], body: m[2]})
	}
	return blocks
}

// shellAs runs a doc's command with sh, as user: kubectl is the cluster's,
// and its kubeconfig the admin's, impersonating user.
func shellAs(t *testing.T, user string, groups ...string) func(g Gomega, command string) string {
	t.Helper()
	run := commandAs(t, user, groups...)
	return func(g Gomega, command string) string {
		stdout, stderr, err := run(command)
		g.Expect(err).NotTo(HaveOccurred(), "%s: %s%s", command, stdout, stderr)
		return stdout + stderr
	}
}

// commandAs is shellAs for a command that may fail: it returns what the
// command printed to stdout and to stderr apart, and how it ended.
func commandAs(t *testing.T, user string, groups ...string) func(command string) (stdout, stderr string, err error) {
	t.Helper()
	g := NewWithT(t)
	cfg, err := clientcmd.LoadFromFile(adminKubeconfig)
	g.Expect(err).NotTo(HaveOccurred())
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate, auth.ImpersonateGroups = user, groups
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(clientcmd.WriteToFile(*cfg, kubeconfig)).To(Succeed())
	return func(command string) (string, string, error) {
		cmd := exec.CommandContext(context.Background(), "sh", "-c", command)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig,
			"PATH="+os.Getenv("KUBEBUILDER_ASSETS")+string(os.PathListSeparator)+os.Getenv("PATH"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
}

// TestMembersJoinAndLeave runs docs/members.md as Anna, a member of team
// north-riverside: the team itself edits its members. A new member has
// access within seconds and the status says so; a member who leaves loses
// it within seconds, and the database password they could read stops
// working: the Secret has a new one, the team's app restarts exactly once to
// take it, and the status and an Event the team reads say why. The team
// asks for a new password, and gets one.
func TestMembersJoinAndLeave(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns = "team-north-riverside"
	const role = "buurt_north_riverside"
	blocks := fencedBlocks(t, "members.md", "## Your team's Events")
	var commands, outputs []string
	var blueprintDoc string
	for _, b := range blocks {
		switch b.lang {
		case "sh":
			commands = append(commands, b.body)
		case "":
			outputs = append(outputs, b.body)
		case "yaml":
			blueprintDoc = b.body
		}
	}
	g.Expect(commands).To(HaveLen(5), "docs/members.md: add, list, remove, why, ask")
	g.Expect(outputs).To(HaveLen(2), "docs/members.md: the list of members, the reason")

	// The documented blueprint is one the apiserver takes; an interval
	// below a day is not.
	documented := &teamsv1alpha1.TeamBlueprint{}
	g.Expect(yaml.Unmarshal([]byte(blueprintDoc), documented)).To(Succeed())
	g.Expect(documented.Spec.Database.PasswordRotation.EveryDays).To(Equal(int32(90)))
	g.Expect(admin.Create(ctx, documented, client.DryRunAll)).To(Succeed())
	daily := &unstructured.Unstructured{}
	g.Expect(yaml.Unmarshal([]byte(strings.Replace(blueprintDoc, "everyDays: 90", "everyDays: 0", 1)), &daily.Object)).To(Succeed())
	err := admin.Create(ctx, daily, client.DryRunAll)
	g.Expect(err).To(MatchError(ContainSubstring("spec.database.passwordRotation.everyDays in body should be greater than or equal to 1")))

	blueprint := sharedBlueprint("north")
	blueprint.Spec.Database.PasswordRotation = &teamsv1alpha1.PasswordRotation{EveryDays: 90}
	readyTeam(t, blueprint, newTeam("north-riverside", "north", user("anna@care.example.org"), user("bram@care.example.org")))
	anna := as(t, "anna@care.example.org")
	asAnna := shellAs(t, "anna@care.example.org")
	secret := func(g Gomega) *corev1.Secret {
		s := &corev1.Secret{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "north-riverside-db"}, s)).To(Succeed())
		return s
	}
	deployment := func(g Gomega) *appsv1.Deployment {
		d := &appsv1.Deployment{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "care-planner"}, d)).To(Succeed())
		return d
	}
	old := string(secret(g).Data["password"])
	generation := deployment(g).Generation

	// Anna adds Cor: within 5 seconds he may work in the namespace, and
	// the status says he is in.
	asAnna(g, commands[0])
	g.Eventually(func(g Gomega) {
		g.Expect(mayReadSecrets(g, "cor@care.example.org", ns)).To(BeTrue())
		g.Expect(asAnna(g, commands[1])).To(Equal(outputs[0]))
	}).WithTimeout(5 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	g.Expect(deployment(g).Generation).To(Equal(generation), "a member joining restarts nothing")

	// Anna removes Bram: within 10 seconds he may not, the password he
	// could read is refused, and the Secret holds one that works.
	asAnna(g, commands[2])
	var fresh string
	g.Eventually(func(g Gomega) {
		g.Expect(mayReadSecrets(g, "bram@care.example.org", ns)).To(BeFalse())
		refusedByServer(g, role, old)
		fresh = string(secret(g).Data["password"])
		g.Expect(fresh).NotTo(Equal(old))
		conn, err := pgx.Connect(ctx, pg.URI(role, fresh, role))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conn.Close(ctx)).To(Succeed())
	}).WithTimeout(10 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	eventuallyTeam(t, "north-riverside", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, tm)
		g.Expect(asAnna(g, commands[3])).To(Equal(strings.TrimSuffix(outputs[1], "\n")))
		g.Expect(tm.Status.Apps).To(Equal([]teamsv1alpha1.AppStatus{{Name: "care-planner", DesiredReplicas: 1, AvailableReplicas: 1}}))
	})
	// Anna reads why in her team's Events; nobody reads the password.
	g.Eventually(func(g Gomega) {
		events := &eventsv1.EventList{}
		g.Expect(anna.List(ctx, events, client.InNamespace(ns))).To(Succeed())
		reasons := map[string]string{}
		for _, e := range events.Items {
			reasons[e.Reason] = e.Note
			g.Expect(e.Note).NotTo(ContainSubstring(old))
			g.Expect(e.Note).NotTo(ContainSubstring(fresh))
		}
		g.Expect(reasons).To(HaveKeyWithValue(teamsv1alpha1.MemberRemovedReason,
			"user bram@care.example.org left the team: no access to namespace team-north-riverside any more, "+
				"and the database password is made anew"))
		g.Expect(reasons).To(HaveKeyWithValue(teamsv1alpha1.CredentialsRotatedReason, ContainSubstring("(MemberRemoved)")))
		g.Expect(reasons).To(HaveKeyWithValue(teamsv1alpha1.MemberAddedReason,
			"user cor@care.example.org now has access to namespace team-north-riverside"))
	}).WithTimeout(timeout).Should(Succeed())

	// The app restarted exactly once, to take the new password.
	g.Consistently(func(g Gomega) {
		g.Expect(deployment(g).Generation).To(Equal(generation + 1))
	}).WithTimeout(5 * time.Second).Should(Succeed())

	// Anna asks for a new password.
	asAnna(g, commands[4])
	eventuallyTeam(t, "north-riverside", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, tm)
		g.Expect(tm.Status.Credentials.LastRotationReason).To(Equal(teamsv1alpha1.RotationRequested))
		g.Expect(tm.Status.Credentials.RotationRequest).To(Equal(tm.Spec.Credentials.RotationRequest))
	})
	refusedByServer(g, role, fresh)
	g.Expect(deployment(g).Generation).To(Equal(generation + 2))
}

// refusedByServer asserts that the shared server refuses password for role
// with SQLSTATE 28P01 (invalid_password).
func refusedByServer(g Gomega, role, password string) {
	_, err := pgx.Connect(context.Background(), pg.URI(role, password, role))
	pgErr := &pgconn.PgError{}
	g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "connecting with an old password: %v", err)
	g.Expect(pgErr.Code).To(Equal("28P01"))
}
