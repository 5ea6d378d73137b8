package v1alpha1_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// object parses one YAML document into an unstructured object, the way a user
// writes it.
func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	return u
}

const (
	teamHeader = `apiVersion: teams.buurt.dev/v1alpha1
kind: NeighbourhoodTeam
`
	blueprintHeader = `apiVersion: teams.buurt.dev/v1alpha1
kind: TeamBlueprint
metadata: {name: invalid}
`
	coachHeader = `apiVersion: teams.buurt.dev/v1alpha1
kind: Coach
metadata: {name: invalid}
`
	validMembers = `  members: [{kind: User, name: anna@care.example.org}]
`
)

// TestInvalidObjectsAreRejected creates each object with a server-side dry
// run and expects the apiserver to refuse it with the message a user sees.
func TestInvalidObjectsAreRejected(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{
			name: "team name longer than 58 characters",
			doc:  teamHeader + "metadata: {name: " + strings.Repeat("a", 59) + "}\nspec:\n  neighbourhood: riverside\n" + validMembers,
			want: "team name must be at most 58 characters, so that its namespace team-<name> is at most 63",
		},
		{
			name: "team name that is not a DNS label",
			doc:  teamHeader + "metadata: {name: north.riverside}\nspec:\n  neighbourhood: riverside\n" + validMembers,
			want: "team name must be a lowercase DNS label (a-z, 0-9 and '-'), since it names the team's namespace",
		},
		{
			name: "team without members",
			doc:  teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n  members: []\n",
			want: "spec.members: Invalid value: a team needs at least one member",
		},
		{
			name: "the same member twice",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" +
				"  members: [{kind: User, name: anna}, {kind: User, name: anna}]\n",
			want: `spec.members[1]: Duplicate value: {"kind":"User","name":"anna"}`,
		},
		{
			name: "member of an unknown kind",
			doc:  teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n  members: [{kind: Robot, name: r2}]\n",
			want: `spec.members[0].kind: Unsupported value: "Robot": supported values: "User", "Group"`,
		},
		{
			name: "system group as member",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" +
				"  members: [{kind: Group, name: 'system:authenticated'}]\n",
			want: "name must not start with 'system:': system users and groups such as system:authenticated would give the whole cluster access",
		},
		{
			name: "neighbourhood that is not a label value",
			doc:  teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: River Side\n" + validMembers,
			want: "neighbourhood must be a lowercase DNS label (a-z, 0-9 and '-'), since it becomes a label value",
		},
		{
			name: "app name that is not a DNS label",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: Rota_1, image: registry.example.org/rota:1, port: 8080}]\n",
			want: "app name must be a lowercase DNS label starting with a letter (a-z, 0-9 and '-')",
		},
		{
			name: "app name reserved for buurt",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: buurt-postgres, image: registry.example.org/rota:1, port: 8080}]\n",
			want: "app names starting with buurt- are reserved for what buurt runs in the team namespace",
		},
		{
			name: "two apps of the same name",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: rota, image: r.example.org/a:1, port: 80}, {name: rota, image: r.example.org/b:1, port: 81}]\n",
			want: `spec.apps[1]: Duplicate value: {"name":"rota"}`,
		},
		{
			name: "app port 0",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: rota, image: r.example.org/a:1, port: 0}]\n",
			want: "spec.apps[0].port: Invalid value: 0: spec.apps[0].port in body should be greater than or equal to 1",
		},
		{
			name: "app port above 65535",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: rota, image: r.example.org/a:1, port: 70000}]\n",
			want: "spec.apps[0].port: Invalid value: 70000: spec.apps[0].port in body should be less than or equal to 65535",
		},
		{
			name: "app with an empty image",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: rota, image: '', port: 8080}]\n",
			want: "spec.apps[0].image: Invalid value: \"\": spec.apps[0].image in body should be at least 1 chars long",
		},
		{
			name: "app image with white space",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: rota, image: 'r.example.org/rota:1 --privileged', port: 8080}]\n",
			want: "image must not contain white space",
		},
		{
			name: "app env that overrides the injected database connection",
			doc: teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n" + validMembers +
				"  apps: [{name: rota, image: r.example.org/a:1, port: 80, database: true, env: [{name: PGHOST, value: evil}]}]\n",
			want: "env must not set DATABASE_URL or PG* variables when database is true: buurt injects them from the team's database Secret",
		},
		{
			name: "unknown lifecycle",
			doc:  teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n  lifecycle: Sleeping\n" + validMembers,
			want: `spec.lifecycle: Unsupported value: "Sleeping": supported values: "Active", "Dormant"`,
		},
		{
			name: "unknown team database class",
			doc:  teamHeader + "metadata: {name: t}\nspec:\n  neighbourhood: riverside\n  database: {class: Cloud}\n" + validMembers,
			want: `spec.database.class: Unsupported value: "Cloud": supported values: "Shared", "Dedicated", "None"`,
		},
		{
			name: "maxMembers above 50",
			doc:  blueprintHeader + "spec: {maxMembers: 51}\n",
			want: "spec.maxMembers: Invalid value: 51: spec.maxMembers in body should be less than or equal to 50",
		},
		{
			name: "maxMembers 0",
			doc:  blueprintHeader + "spec: {maxMembers: 0}\n",
			want: "spec.maxMembers: Invalid value: 0: spec.maxMembers in body should be greater than or equal to 1",
		},
		{
			name: "Shared class without a shared server",
			doc:  blueprintHeader + "spec: {database: {class: Shared}}\n",
			want: "shared is required when class is Shared and not allowed otherwise",
		},
		{
			name: "dedicated settings with another class",
			doc:  blueprintHeader + "spec: {database: {class: None, dedicated: {storageSize: 1Gi}}}\n",
			want: "dedicated is only allowed when class is Dedicated",
		},
		{
			name: "password rotation more often than daily",
			doc:  blueprintHeader + "spec: {database: {class: None, passwordRotation: {everyDays: 0}}}\n",
			want: `spec.database.passwordRotation.everyDays: Invalid value: 0: spec.database.passwordRotation.everyDays in body should be greater than or equal to 1`,
		},
		{
			name: "password rotation interval that is no number of days",
			doc:  blueprintHeader + "spec: {database: {class: None, passwordRotation: {everyDays: 3 months}}}\n",
			want: `spec.database.passwordRotation.everyDays: Invalid value: "string": spec.database.passwordRotation.everyDays in body must be of type integer: "string"`,
		},
		{
			name: "password rotation without an interval",
			doc:  blueprintHeader + "spec: {database: {class: None, passwordRotation: {}}}\n",
			want: `spec.database.passwordRotation.everyDays: Required value`,
		},
		{
			name: "a sleep schedule without days",
			doc: teamHeader + "metadata: {name: sleepy}\nspec: {neighbourhood: riverside, members: [{kind: User, name: anna}], " +
				"sleep: {sleepAt: '20:00', wakeAt: '07:00', days: [], timeZone: Europe/Amsterdam}}\n",
			want: `spec.sleep.days: Invalid value: 0: spec.sleep.days in body should have at least 1 items`,
		},
		{
			name: "a sleep schedule that wakes when it sleeps",
			doc: teamHeader + "metadata: {name: sleepy}\nspec: {neighbourhood: riverside, members: [{kind: User, name: anna}], " +
				"sleep: {sleepAt: '20:00', wakeAt: '20:00', days: [Monday], timeZone: Europe/Amsterdam}}\n",
			want: `spec.sleep: Invalid value: wakeAt must differ from sleepAt: the team would sleep and wake at once`,
		},
		{
			name: "a sleep time that is no time of day",
			doc: teamHeader + "metadata: {name: sleepy}\nspec: {neighbourhood: riverside, members: [{kind: User, name: anna}], " +
				"sleep: {sleepAt: '25:00', wakeAt: '07:00', days: [Monday], timeZone: Europe/Amsterdam}}\n",
			want: `spec.sleep.sleepAt: Invalid value: "25:00": sleepAt must be a time of day as HH:MM (24-hour), such as 20:00`,
		},
		{
			name: "a day that is no day",
			doc: teamHeader + "metadata: {name: sleepy}\nspec: {neighbourhood: riverside, members: [{kind: User, name: anna}], " +
				"sleep: {sleepAt: '20:00', wakeAt: '07:00', days: [Funday], timeZone: Europe/Amsterdam}}\n",
			want: `spec.sleep.days[0]: Unsupported value: "Funday"`,
		},
		{
			name: "a rotation request longer than 63 characters",
			doc: teamHeader + "spec: {neighbourhood: riverside, members: [{kind: User, name: anna}], " +
				"credentials: {rotationRequest: " + strings.Repeat("r", 64) + "}}\n",
			want: `spec.credentials.rotationRequest: Too long: may not be more than 63 bytes`,
		},
		{
			name: "unknown reclaim policy",
			doc:  blueprintHeader + "spec: {database: {class: None, reclaimPolicy: Recycle}}\n",
			want: `spec.database.reclaimPolicy: Unsupported value: "Recycle": supported values: "Retain", "Delete"`,
		},
		{
			name: "database egress with both cidr and peer",
			doc: blueprintHeader + "spec: {database: {class: Shared, shared: {adminSecretName: pg, " +
				"egress: {cidr: 10.0.0.5/32, peer: {namespaceSelector: {matchLabels: {db: pg}}}}}}}\n",
			want: "set exactly one of cidr and peer",
		},
		{
			name: "ingress namespace selector that selects every namespace",
			doc:  blueprintHeader + "spec: {network: {ingressNamespaceSelector: {}}}\n",
			want: `TeamBlueprint.teams.buurt.dev "invalid" is invalid: spec.network.ingressNamespaceSelector: Invalid value: ` +
				`ingressNamespaceSelector must select by at least one label (matchLabels or matchExpressions): ` +
				`an empty selector lets every namespace in, every other team's included`,
		},
		{
			name: "DNS namespace selector with empty matchLabels and matchExpressions",
			doc:  blueprintHeader + "spec: {network: {dns: {namespaceSelector: {matchLabels: {}, matchExpressions: []}}}}\n",
			want: `TeamBlueprint.teams.buurt.dev "invalid" is invalid: spec.network.dns.namespaceSelector: Invalid value: ` +
				`namespaceSelector must select by at least one label (matchLabels or matchExpressions): ` +
				`an empty selector selects every namespace, every other team's included`,
		},
		{
			name: "database egress peer that selects every namespace",
			doc: blueprintHeader + "spec: {database: {class: Shared, shared: {adminSecretName: pg, " +
				"egress: {peer: {namespaceSelector: {}, podSelector: {matchLabels: {app: pg}}}}}}}\n",
			want: `TeamBlueprint.teams.buurt.dev "invalid" is invalid: spec.database.shared.egress.peer.namespaceSelector: Invalid value: ` +
				`namespaceSelector must select by at least one label (matchLabels or matchExpressions): ` +
				`an empty selector selects every namespace, every other team's included`,
		},
		{
			name: "database egress cidr that is not an IP range",
			doc:  blueprintHeader + "spec: {database: {class: Shared, shared: {adminSecretName: pg, egress: {cidr: 10.0.0.300/32}}}}\n",
			want: "cidr must be an IP range such as 10.0.12.5/32",
		},
		{
			name: "unknown pod security level",
			doc:  blueprintHeader + "spec: {podSecurity: {level: strict}}\n",
			want: `spec.podSecurity.level: Unsupported value: "strict": supported values: "privileged", "baseline", "restricted"`,
		},
		{
			name: "pod security version that is not a minor version",
			doc:  blueprintHeader + "spec: {podSecurity: {version: '1.37'}}\n",
			want: "podSecurity.version must be latest or a minor version such as v1.37",
		},
		{
			name: "cluster-admin as member role",
			doc:  blueprintHeader + "spec: {memberRole: cluster-admin}\n",
			want: "memberRole must not be cluster-admin or admin: members must not manage RBAC or buurt's guardrails in their namespace",
		},
		{
			name: "edit as coach role",
			doc:  blueprintHeader + "spec: {coachRole: edit}\n",
			want: "coachRole must be read-only: cluster-admin, admin and edit are not allowed",
		},
		{
			name: "allowed registry without a trailing slash",
			doc:  blueprintHeader + "spec: {allowedRegistries: [registry.example.org]}\n",
			want: "allowedRegistries entries must end with '/', so that registry.example.org/ does not also allow registry.example.org.evil.com",
		},
		{
			name: "standard app from a registry that is not allowed",
			doc: blueprintHeader + "spec:\n  allowedRegistries: [registry.example.org/care/]\n" +
				"  apps: [{name: planner, image: docker.io/planner:1, port: 8080}]\n",
			want: "every app image must start with one of allowedRegistries",
		},
		{
			name: "dedicated database image from a registry that is not allowed",
			doc: blueprintHeader + "spec:\n  allowedRegistries: [registry.example.org/care/]\n" +
				"  database: {class: Dedicated, dedicated: {image: docker.io/library/postgres:17}}\n",
			want: "database.dedicated.image must start with one of allowedRegistries: the tenant image policy holds buurt's own database to them too, and the default postgres:17 is under none of them",
		},
		{
			name: "dedicated database with the default image and allowed registries",
			doc: blueprintHeader + "spec:\n  allowedRegistries: [registry.example.org/care/]\n" +
				"  database: {class: Dedicated}\n",
			want: "database.dedicated.image must start with one of allowedRegistries: the tenant image policy holds buurt's own database to them too, and the default postgres:17 is under none of them",
		},
		{
			name: "image pull policy other than Always",
			doc:  blueprintHeader + "spec: {imagePullPolicy: IfNotPresent}\n",
			want: `spec.imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`,
		},
		{
			name: "ingress domain that is not a DNS name",
			doc:  blueprintHeader + "spec: {ingress: {domain: localhost}}\n",
			want: "domain must be a DNS name such as care.example.org",
		},
		{
			name: "coach with maxTeams 0",
			doc:  coachHeader + "spec: {subject: {kind: User, name: jan}, maxTeams: 0}\n",
			want: "spec.maxTeams: Invalid value: 0: spec.maxTeams in body should be greater than or equal to 1",
		},
		{
			name: "coach subject that is a system user",
			doc:  coachHeader + "spec: {subject: {kind: User, name: 'system:admin'}}\n",
			want: "name must not start with 'system:'",
		},
		{
			name: "coach without a subject",
			doc:  coachHeader + "spec: {maxTeams: 3}\n",
			want: `spec.subject: Required value`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			err := env.Client.Create(context.Background(), object(t, tc.doc), client.DryRunAll)
			g.Expect(err).To(HaveOccurred(), "the apiserver accepted an invalid object")
			g.Expect(err.Error()).To(ContainSubstring(tc.want))
		})
	}
}

// TestQuotaAndLimitsAreCheckedAsTheApiserverChecksThem writes blueprints with
// quota and limits, and then the ResourceQuota and LimitRange a one-member
// team gets from each (with a server-side dry run): a blueprint is refused
// with the message a user sees exactly when the apiserver would refuse what
// buurt makes from it, so that a team never waits on a quota that cannot be
// made.
func TestQuotaAndLimitsAreCheckedAsTheApiserverChecksThem(t *testing.T) {
	ctx := context.Background()
	team := &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: "quota-mirror"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside",
			Members:       []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna"}},
		},
	}
	NewWithT(t).Expect(env.Client.Create(ctx, team)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, team) })
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team.NamespaceName()}}
	NewWithT(t).Expect(env.Client.Create(ctx, ns)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, ns) })

	const refused = `TeamBlueprint.teams.buurt.dev "invalid" is invalid: `
	cases := []struct {
		name string
		spec string
		// want is the whole error; empty when the blueprint is accepted.
		want string
		// stricter is set where buurt refuses what the apiserver would take:
		// a negative container limit makes every container of the team
		// invalid instead.
		stricter bool
	}{
		{
			name: "negative base quota",
			spec: "{quota: {base: {pods: '-5'}}}",
			want: refused + `spec.quota.base: Invalid value: quota.base values must be non-negative quantities such as 2, 500m or 4Gi`,
		},
		{
			name: "negative per-member quota",
			spec: "{quota: {perMember: {requests.cpu: -250m}}}",
			want: refused + `spec.quota.perMember: Invalid value: quota.perMember values must be non-negative quantities such as 2, 500m or 4Gi`,
		},
		{
			name: "unknown quota resource",
			spec: "{quota: {base: {cpus: '2'}}}",
			want: refused + `spec.quota.base: Invalid value: quota.base names must be resources a ResourceQuota accepts: ` +
				"cpu, memory, ephemeral-storage, requests.* and limits.* of these, requests.storage, pods, services, secrets, configmaps, " +
				"persistentvolumeclaims, replicationcontrollers, resourcequotas, services.nodeports, services.loadbalancers, " +
				"hugepages-<size>, requests.hugepages-<size>, or a qualified name with '/' such as count/deployments.apps or requests.nvidia.com/gpu",
		},
		{
			name: "quota resource that is not a qualified name",
			spec: "{quota: {perMember: {count/deployments/apps: '1'}}}",
			want: refused + `spec.quota.perMember: Invalid value: quota.perMember names must be resources a ResourceQuota accepts: ` +
				"cpu, memory, ephemeral-storage, requests.* and limits.* of these, requests.storage, pods, services, secrets, configmaps, " +
				"persistentvolumeclaims, replicationcontrollers, resourcequotas, services.nodeports, services.loadbalancers, " +
				"hugepages-<size>, requests.hugepages-<size>, or a qualified name with '/' such as count/deployments.apps or requests.nvidia.com/gpu",
		},
		{
			name: "default limit above max",
			spec: "{limits: {default: {cpu: 2}, max: {cpu: 1500m}}}",
			want: refused + `spec.limits: Invalid value: limits.default must not be greater than limits.max for the same resource`,
		},
		{
			name: "default request above default limit",
			spec: "{limits: {defaultRequest: {memory: 1Gi}, default: {memory: 512Mi}}}",
			want: refused + `spec.limits: Invalid value: limits.defaultRequest must not be greater than limits.default for the same resource`,
		},
		{
			name: "default request above max",
			spec: "{limits: {defaultRequest: {memory: 1Gi}, max: {memory: 512Mi}}}",
			want: refused + `spec.limits: Invalid value: limits.defaultRequest must not be greater than limits.max for the same resource`,
		},
		{
			name: "overcommitted extended resource",
			spec: "{limits: {defaultRequest: {nvidia.com/gpu: '0'}, default: {nvidia.com/gpu: '1'}}}",
			want: refused + `spec.limits: Invalid value: limits.defaultRequest and limits.default must be equal for ` +
				"hugepages-<size> and extended resources such as nvidia.com/gpu, which cannot be overcommitted",
		},
		{
			name: "quota resource as a container limit",
			spec: "{limits: {default: {requests.cpu: '1'}}}",
			want: refused + `spec.limits.default: Invalid value: limits.default names must be container resources: ` +
				"cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with '/' such as nvidia.com/gpu",
		},
		{
			name:     "negative container limit",
			spec:     "{limits: {max: {memory: -1Gi}}}",
			want:     refused + `spec.limits.max: Invalid value: limits.max values must be non-negative quantities such as 2, 500m or 4Gi`,
			stricter: true,
		},
		{
			name: "every kind of quota resource and limit",
			spec: "\n  quota:\n" +
				"    base: {pods: 20, services.loadbalancers: '0', count/deployments.apps: '5', requests.nvidia.com/gpu: '2', " +
				"gold.storageclass.storage.k8s.io/requests.storage: 100Gi, hugepages-2Mi: 1Gi, requests.hugepages-1Gi: 2Gi}\n" +
				"    perMember: {requests.cpu: 250m, limits.memory: 1Gi, nvidia.com/gpu: '1'}\n" +
				"  limits:\n" +
				"    defaultRequest: {cpu: 100m, memory: 128Mi, nvidia.com/gpu: '1', hugepages-2Mi: 2Mi}\n" +
				"    default: {cpu: 1, memory: 128Mi, nvidia.com/gpu: '1', hugepages-2Mi: 2Mi}\n" +
				"    max: {cpu: '2', memory: 1Gi, example.com/dongle: '3'}\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			doc := blueprintHeader + "spec: " + tc.spec + "\n"
			err := env.Client.Create(ctx, object(t, doc), client.DryRunAll)
			if tc.want == "" {
				g.Expect(err).NotTo(HaveOccurred())
			} else {
				g.Expect(err).To(HaveOccurred(), "the apiserver accepted an invalid blueprint")
				g.Expect(err.Error()).To(Equal(tc.want))
			}

			blueprint := &teamsv1alpha1.TeamBlueprint{}
			g.Expect(yaml.Unmarshal([]byte(doc), blueprint)).To(Succeed())
			var errs []error
			if quota := render.ResourceQuota(team, blueprint); quota != nil {
				errs = append(errs, env.Client.Apply(ctx, quota, client.FieldOwner("buurt-test"), client.DryRunAll))
			}
			if limits := render.LimitRange(team, blueprint); limits != nil {
				errs = append(errs, env.Client.Apply(ctx, limits, client.FieldOwner("buurt-test"), client.DryRunAll))
			}
			if tc.want == "" || tc.stricter {
				g.Expect(errors.Join(errs...)).NotTo(HaveOccurred(), "the apiserver refused what buurt makes from the blueprint")
			} else {
				g.Expect(errors.Join(errs...)).To(HaveOccurred(), "the apiserver accepted what buurt makes from a blueprint buurt refuses")
			}
		})
	}
}

// TestTeamDatabaseClassIsImmutable updates a team's database class override
// after it was set, which would strand the team's data.
func TestTeamDatabaseClassIsImmutable(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	team := &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: "immutable-class"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside",
			Members:       []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna"}},
			Database:      &teamsv1alpha1.TeamDatabase{Class: teamsv1alpha1.DatabaseClassShared},
		},
	}
	g.Expect(env.Client.Create(ctx, team)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, team) })

	const want = "spec.database.class cannot be changed or removed once set: moving a team's data between classes is a migration"

	changed := team.DeepCopy()
	changed.Spec.Database.Class = teamsv1alpha1.DatabaseClassDedicated
	err := env.Client.Update(ctx, changed)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring(want))

	removed := team.DeepCopy()
	removed.Spec.Database = nil
	err = env.Client.Update(ctx, removed)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring(want))

	// The reclaim policy is a deliberate choice that may change.
	policy := team.DeepCopy()
	policy.Spec.Database.ReclaimPolicy = teamsv1alpha1.ReclaimPolicyDelete
	g.Expect(env.Client.Update(ctx, policy)).To(Succeed())

	// A team without an override may choose one later.
	unset := &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: "class-set-later"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside",
			Members:       []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna"}},
		},
	}
	g.Expect(env.Client.Create(ctx, unset)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, unset) })
	unset.Spec.Database = &teamsv1alpha1.TeamDatabase{Class: teamsv1alpha1.DatabaseClassNone}
	g.Expect(env.Client.Update(ctx, unset)).To(Succeed())
}

// TestDefaults creates the smallest valid object of each kind and reads back
// the defaults the CRDs document.
func TestDefaults(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()

	blueprint := object(t, blueprintHeader+"spec:\n  apps: [{name: planner, image: r.example.org/p:1, port: 8080}]\n")
	blueprint.SetName("defaults")
	g.Expect(env.Client.Create(ctx, blueprint)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, blueprint) })
	gotBlueprint := &teamsv1alpha1.TeamBlueprint{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "defaults"}, gotBlueprint)).To(Succeed())
	g.Expect(gotBlueprint.Spec).To(Equal(teamsv1alpha1.TeamBlueprintSpec{
		MaxMembers:  12,
		PodSecurity: teamsv1alpha1.PodSecurity{Level: teamsv1alpha1.PodSecurityRestricted, Version: "v1.37"},
		MemberRole:  "buurt:team-member",
		CoachRole:   "buurt:coach",
		Database:    teamsv1alpha1.BlueprintDatabase{Class: teamsv1alpha1.DatabaseClassNone, ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain},
		Apps:        []teamsv1alpha1.App{{Name: "planner", Image: "r.example.org/p:1", Port: 8080}},
	}))

	dedicated := object(t, blueprintHeader+"spec: {database: {class: Dedicated, dedicated: {}}}\n")
	dedicated.SetName("defaults-dedicated")
	g.Expect(env.Client.Create(ctx, dedicated)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, dedicated) })
	gotDedicated := &teamsv1alpha1.TeamBlueprint{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "defaults-dedicated"}, gotDedicated)).To(Succeed())
	g.Expect(gotDedicated.Spec.Database).To(Equal(teamsv1alpha1.BlueprintDatabase{
		Class:         teamsv1alpha1.DatabaseClassDedicated,
		ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain,
		Dedicated:     &teamsv1alpha1.DedicatedDatabase{Image: "postgres:17", StorageSize: ptr.To(resource.MustParse("1Gi"))},
	}))

	team := object(t, teamHeader+"metadata: {name: defaults}\nspec:\n  neighbourhood: riverside\n"+validMembers+
		"  apps: [{name: rota, image: r.example.org/rota:1, port: 8080}]\n")
	g.Expect(env.Client.Create(ctx, team)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, team) })
	gotTeam := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "defaults"}, gotTeam)).To(Succeed())
	g.Expect(gotTeam.Spec).To(Equal(teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside",
		Blueprint:     teamsv1alpha1.DefaultBlueprintName,
		Members:       []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna@care.example.org"}},
		Apps:          []teamsv1alpha1.App{{Name: "rota", Image: "r.example.org/rota:1", Port: 8080}},
		Lifecycle:     teamsv1alpha1.LifecycleActive,
	}))
	g.Expect(gotTeam.NamespaceName()).To(Equal("team-defaults"))

	coach := object(t, coachHeader+"spec: {subject: {kind: User, name: jan}}\n")
	coach.SetName("defaults")
	g.Expect(env.Client.Create(ctx, coach)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, coach) })
	gotCoach := &teamsv1alpha1.Coach{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "defaults"}, gotCoach)).To(Succeed())
	g.Expect(gotCoach.Spec).To(Equal(teamsv1alpha1.CoachSpec{
		Subject:  teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: "jan"},
		MaxTeams: 40,
	}))
}

// TestSamplesAreAccepted applies every sample in config/samples with
// `kubectl apply --dry-run=server`, as a user would.
func TestSamplesAreAccepted(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "teams_*.yaml"))
	if err != nil || len(samples) < 4 {
		t.Fatalf("expected at least 4 samples in config/samples, found %d (%v)", len(samples), err)
	}
	for _, sample := range samples {
		t.Run(filepath.Base(sample), func(t *testing.T) {
			stdout, stderr, err := env.Kubectl(nil, "apply", "--dry-run=server", "-f", sample)
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server -f %s: %v\n%s", sample, err, stderr)
			}
			if !strings.Contains(stdout, "created (server dry run)") {
				t.Fatalf("unexpected kubectl output: %q", stdout)
			}
		})
	}
}

// TestGetBuurtListsAllKinds checks the buurt category and the printer columns
// with the real kubectl.
func TestGetBuurtListsAllKinds(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	for _, doc := range []string{
		blueprintHeader + "spec: {maxMembers: 9, database: {class: None}}\n",
		coachHeader + "spec: {subject: {kind: User, name: jan@care.example.org}, maxTeams: 7}\n",
		teamHeader + "metadata: {name: columns}\nspec:\n  neighbourhood: riverside\n  blueprint: columns\n  coach: columns\n" + validMembers,
	} {
		u := object(t, doc)
		u.SetName("columns")
		g.Expect(env.Client.Create(ctx, u)).To(Succeed())
		t.Cleanup(func() { _ = env.Client.Delete(ctx, u) })
	}
	ready := []metav1.Condition{{
		Type: teamsv1alpha1.ReadyCondition, Status: metav1.ConditionTrue, Reason: teamsv1alpha1.ReconciledReason,
		LastTransitionTime: metav1.Now(),
	}}
	blueprint := &teamsv1alpha1.TeamBlueprint{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "columns"}, blueprint)).To(Succeed())
	blueprint.Status = teamsv1alpha1.TeamBlueprintStatus{TeamCount: 1}
	g.Expect(env.Client.Status().Update(ctx, blueprint)).To(Succeed())
	coach := &teamsv1alpha1.Coach{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "columns"}, coach)).To(Succeed())
	coach.Status = teamsv1alpha1.CoachStatus{Teams: []string{"columns"}, TeamCount: 1, Conditions: ready}
	g.Expect(env.Client.Status().Update(ctx, coach)).To(Succeed())
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "columns"}, team)).To(Succeed())
	team.Status = teamsv1alpha1.NeighbourhoodTeamStatus{
		Phase:       teamsv1alpha1.TeamPhaseActive,
		Namespace:   team.NamespaceName(),
		MemberCount: 1,
		Conditions:  ready,
		Usage:       &teamsv1alpha1.TeamUsage{Summary: "pods 20%"},
	}
	g.Expect(env.Client.Status().Update(ctx, team)).To(Succeed())

	stdout, stderr, err := env.Kubectl(nil, "get", "buurt", "--field-selector=metadata.name=columns")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(fields(stdout)).To(ContainElements(
		[]string{"NAME", "MAXMEMBERS", "DATABASE", "TEAMS", "AGE"},
		HaveExactElements("teamblueprint.teams.buurt.dev/columns", "9", "None", "1", Not(BeEmpty())),
		[]string{"NAME", "PHASE", "READY", "MEMBERS", "COACH", "COACHED", "NAMESPACE", "USAGE", "AGE"},
		HaveExactElements("neighbourhoodteam.teams.buurt.dev/columns", "Active", "True", "1", "columns", "team-columns", "pods", "20%",
			Not(BeEmpty())),
		[]string{"NAME", "SUBJECT", "TEAMS", "MAXTEAMS", "READY", "AGE"},
		HaveExactElements("coach.teams.buurt.dev/columns", "jan@care.example.org", "1", "7", "True", Not(BeEmpty())),
	))

	stdout, stderr, err = env.Kubectl(nil, "get", "teams", "columns", "-o", "wide")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(fields(stdout)).To(HaveExactElements(
		// A team without a sleep schedule leaves SLEEP and NEXT empty.
		[]string{"NAME", "PHASE", "READY", "MEMBERS", "COACH", "COACHED", "NAMESPACE", "USAGE", "AGE", "NEIGHBOURHOOD", "BLUEPRINT", "SLEEP", "NEXT"},
		HaveExactElements("columns", "Active", "True", "1", "columns", "team-columns", "pods", "20%", Not(BeEmpty()), "riverside", "columns"),
	))
}

// fields splits kubectl's table output into lines of columns.
func fields(out string) [][]string {
	var rows [][]string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows
}

// A split cannot make a team of the source's own name, and once approved it
// is a record: neither it nor its source may change.
func TestTeamSplitRules(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	anna := []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna@care.example.org"}}
	self := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "into-itself"}, Spec: teamsv1alpha1.TeamSplitSpec{
		Source: "north-riverside", NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "north-riverside"}, Members: anna,
	}}
	g.Expect(env.Client.Create(ctx, self)).To(MatchError(ContainSubstring("the new team needs a name of its own, not the source team's")))

	s := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "grows"}, Spec: teamsv1alpha1.TeamSplitSpec{
		Source: "north-riverside", NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "north-hillside"}, Members: anna,
	}}
	g.Expect(env.Client.Create(ctx, s)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, s) })
	g.Expect(s.Spec.Database).To(Equal(teamsv1alpha1.SplitDatabaseEmpty), "the default")

	// Before approval the team may change its mind, but not the team.
	s.Spec.Apps = []string{"rota"}
	g.Expect(env.Client.Update(ctx, s)).To(Succeed())
	moved := s.DeepCopy()
	moved.Spec.Source = "south-harbour"
	g.Expect(env.Client.Update(ctx, moved)).To(MatchError(ContainSubstring("spec.source cannot be changed: make a new split for another team")))

	s.Spec.Approved = ptr.To(true)
	g.Expect(env.Client.Update(ctx, s)).To(Succeed())
	const approved = "an approved split cannot be changed: delete it (the teams stay as they are) and make a new one"
	for _, change := range []func(*teamsv1alpha1.TeamSplit){
		func(s *teamsv1alpha1.TeamSplit) { s.Spec.Apps = nil },
		func(s *teamsv1alpha1.TeamSplit) { s.Spec.Approved = ptr.To(false) },
		func(s *teamsv1alpha1.TeamSplit) { s.Spec.Database = teamsv1alpha1.SplitDatabaseCopy },
	} {
		changed := s.DeepCopy()
		change(changed)
		g.Expect(env.Client.Update(ctx, changed)).To(MatchError(ContainSubstring(approved)))
	}
	// Its status is buurt's to write.
	s.Status = teamsv1alpha1.TeamSplitStatus{Phase: teamsv1alpha1.TeamSplitPhasePlanned, Plan: &teamsv1alpha1.TeamSplitPlan{
		Summary: "1 of 2 members and 1 of 1 apps move to north-hillside; database Empty",
	}}
	g.Expect(env.Client.Status().Update(ctx, s)).To(Succeed())
	stdout, stderr, err := env.Kubectl(nil, "get", "split", "grows")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(fields(stdout)).To(HaveExactElements(
		[]string{"NAME", "SOURCE", "NEW", "PHASE", "APPROVED", "PLAN", "AGE"},
		HaveExactElements("grows", "north-riverside", "north-hillside", "Planned", "true",
			"1", "of", "2", "members", "and", "1", "of", "1", "apps", "move", "to", "north-hillside;", "database", "Empty", Not(BeEmpty())),
	))
}
