package myapi_test

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/myapi"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestServerDelegatesToTheCluster runs the server against the control
// plane: it authenticates a client certificate the cluster trusts, asks
// the cluster's authorizer, and answers in JSON and as a Table.
func TestServerDelegatesToTheCluster(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	create(t, team("server-riverside", user("sanne@care.example.org")))
	create(t, team("server-hillside", user("someone@care.example.org")))
	// Everyone authenticated may ask (the role the chart installs).
	g.Expect(testenv.CreateFromFile(ctx, env.Client, filepath.Join(testenv.RepoRoot(), "config", "my-teams", "user_role.yaml"))).To(Succeed())

	kubeconfig, err := env.WriteKubeconfig(t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	port, err := freeport.Get()
	g.Expect(err).NotTo(HaveOccurred())
	o := myapi.NewOptions()
	o.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.SecureServing.BindPort = port
	o.SecureServing.ServerCert.CertDirectory = t.TempDir()
	o.Authentication.RemoteKubeConfigFile = kubeconfig
	o.Authorization.RemoteKubeConfigFile = kubeconfig
	c, err := cache.New(env.Config, cache.Options{Scheme: testenv.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = c.Start(ctx) }()
	server, err := myapi.New(o, c, nil, []net.IP{net.ParseIP("127.0.0.1")})
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = server.Run(ctx) }()

	sanne, err := env.UserConfig("sanne@care.example.org", "system:authenticated")
	g.Expect(err).NotTo(HaveOccurred())
	sanne.Host = "https://127.0.0.1:" + strconv.Itoa(port)
	sanne.CAData, sanne.Insecure = nil, true
	client, err := rest.UnversionedRESTClientFor(withCodec(sanne))
	g.Expect(err).NotTo(HaveOccurred())

	var list myv1alpha1.TeamList
	g.Eventually(func(g Gomega) []string {
		body, err := client.Get().AbsPath("/apis/my.buurt.dev/v1alpha1/teams").Do(ctx).Raw()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(json.Unmarshal(body, &list)).To(Succeed())
		var names []string
		for _, item := range list.Items {
			names = append(names, item.Name+"/"+string(item.Status.Role))
		}
		return names
	}).WithTimeout(20 * time.Second).Should(Equal([]string{"server-riverside/Member"}))
	g.Expect(list.Kind).To(Equal("TeamList"))
	g.Expect(list.APIVersion).To(Equal("my.buurt.dev/v1alpha1"))

	// Someone else's team is not found, as one that does not exist.
	err = client.Get().AbsPath("/apis/my.buurt.dev/v1alpha1/teams/server-hillside").Do(ctx).Error()
	g.Expect(err).To(MatchError(`teams.my.buurt.dev "server-hillside" not found`))

	// kubectl asks for a Table.
	body, err := client.Get().AbsPath("/apis/my.buurt.dev/v1alpha1/teams").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctx).Raw()
	g.Expect(err).NotTo(HaveOccurred())
	table := &metav1.Table{}
	g.Expect(json.Unmarshal(body, table)).To(Succeed())
	g.Expect(table.ColumnDefinitions[1].Name).To(Equal("Role"))
	g.Expect(table.Rows).To(HaveLen(1))
	g.Expect(table.Rows[0].Cells[:2]).To(Equal([]any{"server-riverside", "Member"}))

	// Discovery names the resource and its short names.
	body, err = client.Get().AbsPath("/apis/my.buurt.dev/v1alpha1").Do(ctx).Raw()
	g.Expect(err).NotTo(HaveOccurred())
	resources := &metav1.APIResourceList{}
	g.Expect(json.Unmarshal(body, resources)).To(Succeed())
	g.Expect(resources.APIResources).To(ContainElement(And(
		HaveField("Name", "teams"), HaveField("Kind", "Team"), HaveField("Namespaced", false),
		HaveField("ShortNames", []string{"myteams", "myteam"}), HaveField("Verbs", ConsistOf("get", "list", "watch")))))
}

func withCodec(c *rest.Config) *rest.Config {
	c.NegotiatedSerializer = myapi.Codecs.WithoutConversion()
	return c
}
