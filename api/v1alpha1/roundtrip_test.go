package v1alpha1_test

import (
	"math/rand"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	"k8s.io/apimachinery/pkg/api/resource"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/randfill"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// quantityFuncs fuzzes quantities in their canonical form: a Quantity keeps
// the text it was parsed from, which a random bit pattern would not have.
func quantityFuncs(_ runtimeserializer.CodecFactory) []any {
	return []any{
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewMilliQuantity(c.Int63n(1_000_000), resource.DecimalSI)
		},
	}
}

var fuzzFuncs = fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, quantityFuncs)

// TestRoundTrip fuzzes every kind and checks it survives JSON (and, through
// unstructured, JSON and CBOR) unchanged, so no field is lost between the
// operator, the apiserver and kubectl.
func TestRoundTrip(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := teamsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := runtimeserializer.NewCodecFactory(scheme)
	seed := time.Now().UnixNano()
	t.Logf("fuzz seed %d", seed)
	*roundtrip.FuzzIters = 50
	f := fuzzer.FuzzerFor(fuzzFuncs, rand.NewSource(seed), codecs)
	roundtrip.RoundTripExternalTypesWithoutProtobuf(t, scheme, codecs, f, nil)

	kinds := sets.New(
		teamsv1alpha1.GroupVersion.WithKind("TeamBlueprint"), teamsv1alpha1.GroupVersion.WithKind("TeamBlueprintList"),
		teamsv1alpha1.GroupVersion.WithKind("NeighbourhoodTeam"), teamsv1alpha1.GroupVersion.WithKind("NeighbourhoodTeamList"),
		teamsv1alpha1.GroupVersion.WithKind("Coach"), teamsv1alpha1.GroupVersion.WithKind("CoachList"),
	)
	// The scheme also holds meta kinds (ListOptions, WatchEvent, ...) that
	// apimachinery tests itself.
	others := sets.New[schema.GroupVersionKind]()
	for gvk := range scheme.AllKnownTypes() {
		if !kinds.Has(gvk) {
			others.Insert(gvk)
		}
	}
	roundtrip.RoundtripToUnstructured(t, scheme, fuzzFuncs, others, kinds)
}
