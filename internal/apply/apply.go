// Package apply sends server-side applies for the objects buurt owns, and
// skips an apply whose result is already in place, so that a reconcile of an
// unchanged team sends no request, also the first one after a restart.
//
// Each object buurt applies carries, in AppliedAnnotation, a hash of the
// configuration it was applied with. An apply is skipped when the object as
// it is (in the cache) carries the hash of the configuration buurt would
// apply now, and holds every field of that configuration with its value
// (inPlace). The hash catches what a comparison of fields cannot: a field
// buurt set before and no longer sets, which an apply removes. The
// comparison catches what the hash cannot: a hand edit of a field buurt
// sets, which an apply undoes. Nothing is kept in memory, so a restarted
// operator skips just as well; and the status writers of an object (a
// Deployment's controller, quota admission) change nothing that is compared.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the one field manager buurt applies with.
const FieldOwner = "buurt"

// AppliedAnnotation holds a hash of the configuration buurt last applied to
// an object (without this annotation). It is no secret: for the database
// Secret, it is a hash of a random password among other values, as the
// pod template's database-secret-hash is.
const AppliedAnnotation = "teams.buurt.dev/applied"

// Applier applies desired objects with server-side apply, forcing ownership
// of the fields buurt sets, so a hand edit of such a field is undone.
type Applier struct {
	client client.Client
}

// New returns an Applier that reads current objects through c (normally the
// manager's cached client) and applies through it.
func New(c client.Client) *Applier {
	return &Applier{client: c}
}

// Apply makes the object described by desired exist with buurt's fields as
// desired, and fills live with the object as it now is. live is an empty
// object of desired's kind; it is read from the cache first, and the apply is
// skipped when what desired says is in place already.
func (a *Applier) Apply(ctx context.Context, desired runtime.ApplyConfiguration, live client.Object) error {
	d, err := prepare(desired, live)
	if err != nil {
		return err
	}
	current := live.DeepCopyObject().(client.Object)
	switch err := a.client.Get(ctx, client.ObjectKeyFromObject(live), current); {
	case err == nil:
		return a.applyOver(ctx, d, current, live)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("failed to read %s: %w", d.key, err)
	}
	return a.send(ctx, d, live)
}

// ApplyOver is Apply for an object the caller has just read itself, as
// current (empty when it does not exist), so that it is not read twice: a
// Secret, which is never cached.
func (a *Applier) ApplyOver(ctx context.Context, desired runtime.ApplyConfiguration, current, live client.Object) error {
	d, err := prepare(desired, live)
	if err != nil {
		return err
	}
	if current.GetResourceVersion() == "" {
		return a.send(ctx, d, live)
	}
	return a.applyOver(ctx, d, current, live)
}

// desiredObject is a configuration to apply, with its hash in
// AppliedAnnotation.
type desiredObject struct {
	// fields is the configuration as JSON decodes it, annotation included.
	fields map[string]any
	hash   string
	// key names the object in errors.
	key string
}

// prepare hashes desired, adds the hash to it and fills live with its kind,
// name and namespace.
func prepare(desired runtime.ApplyConfiguration, live client.Object) (desiredObject, error) {
	data, err := json.Marshal(desired)
	if err != nil {
		return desiredObject{}, fmt.Errorf("failed to encode %T: %w", desired, err)
	}
	sum := sha256.Sum256(data)
	d := desiredObject{hash: hex.EncodeToString(sum[:16])}
	if err := json.Unmarshal(data, &d.fields); err != nil {
		return desiredObject{}, fmt.Errorf("failed to decode %T: %w", desired, err)
	}
	if err := unstructured.SetNestedField(d.fields, d.hash, "metadata", "annotations", AppliedAnnotation); err != nil {
		return desiredObject{}, fmt.Errorf("failed to annotate %T: %w", desired, err)
	}
	if err := json.Unmarshal(data, live); err != nil {
		return desiredObject{}, fmt.Errorf("failed to decode %T into %T: %w", desired, live, err)
	}
	d.key = fmt.Sprintf("%T %s", live, klog.KObj(live))
	return d, nil
}

// applyOver fills live with current when d is in place in it, and applies d
// otherwise.
func (a *Applier) applyOver(ctx context.Context, d desiredObject, current, live client.Object) error {
	if current.GetAnnotations()[AppliedAnnotation] == d.hash {
		data, err := json.Marshal(current)
		if err != nil {
			return fmt.Errorf("failed to encode %s: %w", d.key, err)
		}
		// Decoded from JSON, its numbers compare with the configuration's.
		var fields map[string]any
		if err := json.Unmarshal(data, &fields); err != nil {
			return fmt.Errorf("failed to decode %s: %w", d.key, err)
		}
		// A typed object read from the cache has no kind; its Go type is
		// desired's.
		fields["apiVersion"], fields["kind"] = d.fields["apiVersion"], d.fields["kind"]
		if inPlace(d.fields, fields) {
			return json.Unmarshal(data, live)
		}
	}
	return a.send(ctx, d, live)
}

// send applies d and fills live with the server's answer.
func (a *Applier) send(ctx context.Context, d desiredObject, live client.Object) error {
	return a.applyFields(ctx, FieldOwner, d.fields, d.key, live)
}

// applyFields applies fields as field manager owner, forcing its ownership
// of them, and fills live, when not nil, with the object as it now is.
func (a *Applier) applyFields(ctx context.Context, owner string, fields map[string]any, key string, live client.Object) error {
	u := &unstructured.Unstructured{Object: fields}
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(owner), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to apply %s: %w", key, err)
	}
	if live == nil {
		return nil
	}
	// Apply decoded the server's answer into u.
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, live); err != nil {
		return fmt.Errorf("failed to decode applied %s: %w", key, err)
	}
	return nil
}

// inPlace is true when have holds every field of want with its value. Maps
// may hold more keys than want sets (what others set, defaults); a list
// must have as many items as want's, each in place in turn, since buurt's
// lists are its own (a rule added by hand to a NetworkPolicy is not in
// place). An empty map or list wants nothing; quantities are compared by
// value ("1024Mi" is "1Gi"), as the apiserver writes them its own way.
func inPlace(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, v := range w {
			if !inPlace(v, h[k]) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(w) != len(h) {
			return false
		}
		for i := range w {
			if !inPlace(w[i], h[i]) {
				return false
			}
		}
		return true
	case string:
		h, ok := have.(string)
		return ok && (w == h || sameQuantity(w, h))
	default:
		return want == have
	}
}

// sameQuantity is true when a and b are quantities of the same value.
func sameQuantity(a, b string) bool {
	qa, err := resource.ParseQuantity(a)
	if err != nil {
		return false
	}
	qb, err := resource.ParseQuantity(b)
	return err == nil && qa.Cmp(qb) == 0
}

// Prune deletes the objects of list's kind that opts select, that owner
// controls and that keep does not keep. Nothing owner does not control is
// ever deleted.
func (a *Applier) Prune(ctx context.Context, owner client.Object, list client.ObjectList, keep func(client.Object) bool, opts ...client.ListOption) error {
	if err := a.client.List(ctx, list, opts...); err != nil {
		return fmt.Errorf("failed to list %T of %s: %w", list, klog.KObj(owner), err)
	}
	objects, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, o := range objects {
		obj := o.(client.Object)
		if keep(obj) || !metav1.IsControlledBy(obj, owner) {
			continue
		}
		if err := a.client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to prune %T %s of %s: %w", obj, klog.KObj(obj), klog.KObj(owner), err)
		}
	}
	return nil
}

// ApplyAs applies desired as field manager owner, forcing its ownership of
// the fields desired sets, and fills live, when not nil, with the object as
// it now is. It is for a writer apart from buurt's own apply (sleep), so it
// neither skips nor carries AppliedAnnotation: its caller applies only what
// is to change.
func (a *Applier) ApplyAs(ctx context.Context, owner string, desired runtime.ApplyConfiguration, live client.Object) error {
	data, err := json.Marshal(desired)
	if err != nil {
		return fmt.Errorf("failed to encode %T: %w", desired, err)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(data, &u.Object); err != nil {
		return fmt.Errorf("failed to decode %T: %w", desired, err)
	}
	return a.applyFields(ctx, owner, u.Object, fmt.Sprintf("%s %s", u.GetKind(), klog.KObj(u)), live)
}
