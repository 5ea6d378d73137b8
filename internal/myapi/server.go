package myapi

import (
	"context"
	"fmt"
	"net"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/component-base/compatibility"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/myapi/openapi"
)

// Scheme knows the my.buurt.dev types, in their one version and as the
// server's internal version (the same Go types, copied across).
var Scheme = newScheme()

// Codecs encode and decode the API's types.
var Codecs = serializer.NewCodecFactory(Scheme)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := myv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	internal := schema.GroupVersion{Group: myv1alpha1.GroupName, Version: runtime.APIVersionInternal}
	s.AddKnownTypes(internal, &myv1alpha1.Team{}, &myv1alpha1.TeamList{})
	copyTeam := func(in, out any, _ conversion.Scope) error {
		in.(*myv1alpha1.Team).DeepCopyInto(out.(*myv1alpha1.Team))
		return nil
	}
	copyList := func(in, out any, _ conversion.Scope) error {
		in.(*myv1alpha1.TeamList).DeepCopyInto(out.(*myv1alpha1.TeamList))
		return nil
	}
	for _, err := range []error{
		s.AddConversionFunc((*myv1alpha1.Team)(nil), (*myv1alpha1.Team)(nil), copyTeam),
		s.AddConversionFunc((*myv1alpha1.TeamList)(nil), (*myv1alpha1.TeamList)(nil), copyList),
		metainternalversion.AddToScheme(s),
	} {
		if err != nil {
			panic(err)
		}
	}
	unversioned := schema.GroupVersion{Version: "v1"}
	metav1.AddToGroupVersion(s, unversioned)
	s.AddUnversionedTypes(unversioned, &metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{},
		&metav1.APIGroup{}, &metav1.APIResourceList{})
	return s
}

// Options are the server's: where it serves, and how it authenticates and
// authorizes requests, all delegated to the cluster's apiserver (its
// front-proxy request headers, TokenReviews, SubjectAccessReviews).
type Options struct {
	SecureServing  *genericoptions.SecureServingOptionsWithLoopback
	Authentication *genericoptions.DelegatingAuthenticationOptions
	Authorization  *genericoptions.DelegatingAuthorizationOptions
}

// NewOptions are the defaults: port 8443, a self-signed certificate in
// certDir when none is given.
func NewOptions() *Options {
	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	serving.BindPort = 8443
	return &Options{
		SecureServing:  serving,
		Authentication: genericoptions.NewDelegatingAuthenticationOptions(),
		Authorization:  genericoptions.NewDelegatingAuthorizationOptions(),
	}
}

// libraryVersion is the Kubernetes version of the k8s.io/apiserver this
// is built with (go.mod): the API features it serves are that version's.
const libraryVersion = "1.37"

// Server serves teams.my.buurt.dev.
type Server struct {
	generic *genericapiserver.GenericAPIServer
}

// New makes the server over the cache of teams and coaches. hosts are the
// names and addresses a self-signed certificate is made for.
func New(o *Options, cache ctrlcache.Cache, hosts []string, ips []net.IP) (*Server, error) {
	if err := o.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", hosts, ips); err != nil {
		return nil, fmt.Errorf("failed to make a self-signed certificate: %w", err)
	}
	config := genericapiserver.NewRecommendedConfig(Codecs)
	config.EffectiveVersion = compatibility.NewEffectiveVersionFromString(libraryVersion, "", "")
	if err := o.SecureServing.ApplyTo(&config.SecureServing, &config.LoopbackClientConfig); err != nil {
		return nil, err
	}
	if err := o.Authentication.ApplyTo(&config.Authentication, config.SecureServing, nil); err != nil {
		return nil, err
	}
	if err := o.Authorization.ApplyTo(&config.Authorization); err != nil {
		return nil, err
	}
	namer := openapinamer.NewDefinitionNamer(Scheme)
	config.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openapi.GetOpenAPIDefinitions, namer)
	config.OpenAPIConfig.Info.Title = "buurt"
	config.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openapi.GetOpenAPIDefinitions, namer)
	config.OpenAPIV3Config.Info.Title = "buurt"
	generic, err := config.Complete().New("buurt-api", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(myv1alpha1.GroupName, Scheme, runtime.NewParameterCodec(Scheme), Codecs)
	group.VersionedResourcesStorageMap[myv1alpha1.GroupVersion.Version] = map[string]rest.Storage{
		"teams": NewTeamStorage(cache, cache, mayListAll(config.Authorization.Authorizer)),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, err
	}
	return &Server{generic: generic}, nil
}

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	return s.generic.PrepareRun().RunWithContext(ctx)
}

// mayListAll asks the cluster's authorizer whether someone may list every
// NeighbourhoodTeam.
func mayListAll(a authorizer.Authorizer) MayListAll {
	return func(ctx context.Context, who user.Info) (bool, error) {
		decision, _, err := a.Authorize(ctx, authorizer.AttributesRecord{
			User: who, Verb: "list", APIGroup: teamsv1alpha1.GroupVersion.Group, APIVersion: teamsv1alpha1.GroupVersion.Version,
			Resource: "neighbourhoodteams", ResourceRequest: true,
		})
		if err != nil {
			return false, err
		}
		return decision == authorizer.DecisionAllow, nil
	}
}
