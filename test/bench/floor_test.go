//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

// floorTeamPrefix names the floor's teams, and so its namespaces
// (team-floor-…), ClusterRoles and databases: nothing of the floor can be
// taken for buurt's.
const floorTeamPrefix = "floor-"

// pgStatementTimeout bounds each statement the floor sends PostgreSQL;
// CREATE DATABASE copies a template and is the slowest.
const pgStatementTimeout = 30 * time.Second

// floor makes what buurt makes for a team, the plainest way: each object
// created once, in buurt's order, by a client that knows it is new; for a
// Shared database a role and a database, nothing checked first. It is what
// the cluster itself costs for a team; buurt's figures are read against it.
//
// The objects are buurt's own: the floor renders them with the functions
// the operator renders them with (package render), so the two cannot drift
// apart as buurt changes. Only their owner references are left out, since
// the floor makes no NeighbourhoodTeam to own them (the garbage collector
// would delete them at once).
type floor struct {
	client    client.Client
	blueprint *teamsv1alpha1.TeamBlueprint
	// operator is the operator's identity, for the RoleBinding buurt gives
	// itself in each team namespace.
	operator rbacv1.Subject
	// pg and pgServer are the shared server, for a Shared blueprint; pg is
	// nil otherwise.
	pg       *pgxpool.Pool
	pgServer *testpg.Server
	// applies makes each object with a server-side apply, not a create.
	applies bool
}

// newFloor connects the floor to the cluster (through its proxy) and, for a
// Shared blueprint, to the shared server.
func newFloor(ctx context.Context, e *env, blueprint *teamsv1alpha1.TeamBlueprint, concurrency int) (*floor, error) {
	c, err := client.New(e.floorConfig, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return nil, err
	}
	f := &floor{client: c, blueprint: blueprint, pgServer: e.pg, operator: rbacv1.Subject{
		Kind: rbacv1.ServiceAccountKind, Namespace: localcluster.OperatorNamespace, Name: localcluster.OperatorServiceAccount,
	}}
	if blueprint.Spec.Database.Class == teamsv1alpha1.DatabaseClassShared {
		cfg, err := pgxpool.ParseConfig(e.pg.URI(testpg.AdminUser, e.pg.Password, "postgres"))
		if err != nil {
			return nil, err
		}
		cfg.MaxConns = int32(concurrency) //nolint:gosec // BENCH_CONCURRENCY, a small number
		if f.pg, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
			return nil, fmt.Errorf("failed to connect the floor to PostgreSQL: %w", err)
		}
	}
	return f, nil
}

func (f *floor) close() {
	if f.pg != nil {
		f.pg.Close()
	}
}

// made is what makeTeam made for a team.
type made struct {
	// objects is how many objects it created.
	objects int
	// deployments are the namespace/name of its Deployments, which the team
	// waits for.
	deployments []string
}

// makeTeam makes team's workspace.
func (f *floor) makeTeam(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) (made, error) {
	bp := f.blueprint
	// In the order of the team controller's phases: namespace (with the
	// operator's access), access, quota, database, network, apps.
	objects := []any{
		render.Namespace(team, bp),
		render.OperatorRoleBinding(team, f.operator),
		render.MembersRoleBinding(team, bp.Spec.MemberRole),
		render.SelfServiceClusterRole(team),
		render.SelfServiceClusterRoleBinding(team),
	}
	if quota := render.ResourceQuota(team, bp); quota != nil {
		objects = append(objects, quota)
	}
	if limits := render.LimitRange(team, bp); limits != nil {
		objects = append(objects, limits)
	}
	var m made
	if err := f.create(ctx, &m, objects...); err != nil {
		return m, err
	}

	var databasePort int32
	opts := render.AppOptions{}
	if f.pg != nil {
		secret, err := f.makeDatabase(ctx, team)
		if err != nil {
			return m, err
		}
		if err := f.create(ctx, &m, secret); err != nil {
			return m, err
		}
		databasePort = int32(f.pgServer.Port) //nolint:gosec // a TCP port
		opts.DatabaseSecretHash = render.SecretHash(secret.Data)
	}

	objects = objects[:0]
	for _, policy := range render.NetworkPolicies(team, bp, databasePort) {
		objects = append(objects, policy)
	}
	objects = append(objects, render.AppServiceAccount(team))
	set := render.Apps(team, bp, f.pg != nil)
	if !render.UsesDatabase(set.Apps) {
		opts.DatabaseSecretHash = ""
	}
	for _, app := range set.Apps {
		objects = append(objects, render.Deployment(team, app, opts), render.AppService(team, app))
		if ingress := render.AppIngress(team, bp, app); ingress != nil {
			objects = append(objects, ingress)
		}
	}
	err := f.create(ctx, &m, objects...)
	return m, err
}

// create creates (or, for a floor that applies, applies) each apply
// configuration as a new object, in order, and counts it in m.
func (f *floor) create(ctx context.Context, m *made, objects ...any) error {
	for _, o := range objects {
		data, err := json.Marshal(o)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return err
		}
		u.SetOwnerReferences(nil)
		send := func() error { return f.client.Create(ctx, u) }
		if f.applies {
			send = func() error {
				return f.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("bench-floor"), client.ForceOwnership)
			}
		}
		if err := send(); err != nil {
			return fmt.Errorf("floor: failed to create %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		m.objects++
		if u.GetKind() == "Deployment" {
			m.deployments = append(m.deployments, u.GetNamespace()+"/"+u.GetName())
		}
	}
	return nil
}

// makeDatabase makes the team's role, with a new password sent as a SCRAM
// verifier as buurt sends it, and its database owned by the role, and
// returns the team's connection Secret.
func (f *floor) makeDatabase(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) (*corev1ac.SecretApplyConfiguration, error) {
	name := database.Name(team.Name)
	password, err := database.NewPassword()
	if err != nil {
		return nil, err
	}
	verifier, err := database.SCRAMVerifier(password)
	if err != nil {
		return nil, err
	}
	role := pgx.Identifier{name}.Sanitize()
	// A verifier is base64 and '$', ':' only: it needs no escaping.
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD '" + verifier + "'",
		"CREATE DATABASE " + role + " OWNER " + role,
	} {
		if err := f.exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("floor: failed to make the database of team %s: %w", team.Name, err)
		}
	}
	port := strconv.Itoa(f.pgServer.Port)
	return render.DatabaseSecret(team, render.Connection{
		Host: f.pgServer.Host, Port: port, DBName: name, User: name, Password: password, SSLMode: "disable",
	}), nil
}

func (f *floor) exec(ctx context.Context, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, pgStatementTimeout)
	defer cancel()
	_, err := f.pg.Exec(ctx, stmt)
	return err
}

// remove deletes what makeTeam made for team: its namespace (which takes
// everything in it), its cluster-scoped RBAC, and its role and database.
// The caller waits until the namespaces are gone.
func (f *floor) remove(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) error {
	name := render.SelfServiceName(team)
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team.NamespaceName()}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}},
	} {
		if err := f.client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("floor: failed to delete %T %s: %w", obj, obj.GetName(), err)
		}
	}
	if f.pg == nil {
		return nil
	}
	role := pgx.Identifier{database.Name(team.Name)}.Sanitize()
	for _, stmt := range []string{"DROP DATABASE IF EXISTS " + role, "DROP ROLE IF EXISTS " + role} {
		if err := f.exec(ctx, stmt); err != nil {
			return fmt.Errorf("floor: failed to drop the database of team %s: %w", team.Name, err)
		}
	}
	return nil
}

// deploymentAvailable is the key of a Deployment that is Available.
func deploymentAvailable(obj any) (string, bool) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return "", false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return d.Namespace + "/" + d.Name, true
		}
	}
	return "", false
}
