// Package v1alpha1 is the my.buurt.dev API: the NeighbourhoodTeams a person
// has a part in, as they see them. It is served by buurt's aggregated API
// server (cmd/buurt-api), read-only, to everyone authenticated: each sees
// only their own teams (internal/myteams), so `kubectl get myteams` works
// for a member or coach who may not list NeighbourhoodTeams.
//
// +kubebuilder:object:generate=true
// +kubebuilder:skip
// +k8s:openapi-gen=true
// +groupName=my.buurt.dev
package v1alpha1
