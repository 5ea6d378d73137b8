package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultBlueprintName is the blueprint a team uses when it names none.
const DefaultBlueprintName = "default"

// PodSecurityLevel is a Pod Security Standards level.
// +kubebuilder:validation:Enum=privileged;baseline;restricted
type PodSecurityLevel string

const (
	// PodSecurityPrivileged allows everything; only for trusted system work.
	PodSecurityPrivileged PodSecurityLevel = "privileged"
	// PodSecurityBaseline stops known privilege escalations.
	PodSecurityBaseline PodSecurityLevel = "baseline"
	// PodSecurityRestricted enforces current pod hardening best practice.
	PodSecurityRestricted PodSecurityLevel = "restricted"
)

// ImagePullPolicy is the pull policy a blueprint requires of every container
// in its teams' namespaces. It is a named type rather than a bool so that a
// later policy (IfNotPresent for a trusted registry) fits beside Always.
// +kubebuilder:validation:Enum=Always
type ImagePullPolicy string

const (
	// ImagePullPolicyAlways requires imagePullPolicy: Always, so that the
	// registry checks a pod's credentials on every start and no pod runs an
	// image another namespace's pod pulled onto the node.
	ImagePullPolicyAlways ImagePullPolicy = "Always"
)

// TeamBlueprintSpec is what every team that uses this blueprint gets.
type TeamBlueprintSpec struct {
	// maxMembers is the most member entries a team may list. Teams grow by
	// splitting into a second team, not by growing past this.
	// +optional
	// +default=12
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	MaxMembers int32 `json:"maxMembers,omitempty"`

	// podSecurity is the Pod Security Admission level enforced, audited and
	// warned on in every team namespace, and the version it is pinned to.
	// +optional
	// +default={"level": "restricted", "version": "v1.37"}
	PodSecurity PodSecurity `json:"podSecurity,omitzero"`

	// memberRole is the ClusterRole bound to the team's members inside their
	// namespace.
	// +optional
	// +default="buurt:team-member"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self != 'cluster-admin' && self != 'admin'",message="memberRole must not be cluster-admin or admin: members must not manage RBAC or buurt's guardrails in their namespace"
	MemberRole string `json:"memberRole,omitempty"`

	// coachRole is the ClusterRole bound to a team's coach inside the team's
	// namespace. Coaches support, they do not manage: keep it read-only.
	// +optional
	// +default="buurt:coach"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!(self in ['cluster-admin', 'admin', 'edit'])",message="coachRole must be read-only: cluster-admin, admin and edit are not allowed"
	CoachRole string `json:"coachRole,omitempty"`

	// quota is the team's ResourceQuota: base plus perMember for every member
	// entry. When omitted the team gets no ResourceQuota.
	// +optional
	Quota *Quota `json:"quota,omitempty"`

	// prices is a price table for the teams' estimated monthly cost
	// (status.usage.estimatedMonthlyCost): an estimate from what each team
	// requests of its quota, not a bill. No estimate when omitted.
	// +optional
	Prices *Prices `json:"prices,omitempty"`

	// limits are the LimitRange defaults for containers in the team namespace.
	// When omitted the team gets no LimitRange.
	// +optional
	Limits *ContainerLimits `json:"limits,omitempty"`

	// network says which traffic the team namespace lets in and out besides
	// its own.
	// +optional
	Network *Network `json:"network,omitempty"`

	// database is how teams get their database.
	// +optional
	// +default={"class": "None", "reclaimPolicy": "Retain"}
	Database BlueprintDatabase `json:"database,omitzero"`

	// allowedRegistries are the image prefixes that apps may come from, each
	// ending in '/', e.g. registry.example.org/care/. When empty, any image
	// is allowed.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=2
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule="self.endsWith('/')",message="allowedRegistries entries must end with '/', so that registry.example.org/ does not also allow registry.example.org.evil.com"
	AllowedRegistries []string `json:"allowedRegistries,omitempty"`

	// imagePullPolicy is the pull policy every container in the teams'
	// namespaces must have, buurt's own included; with Always an admission
	// policy refuses any other. When omitted any pull policy is allowed.
	// +optional
	ImagePullPolicy ImagePullPolicy `json:"imagePullPolicy,omitempty"`

	// ingress gives every app an Ingress at <app>.<team>.<domain>; apps get
	// none when it is omitted.
	// +optional
	Ingress Ingress `json:"ingress,omitzero"`

	// apps are the standard apps every team gets.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	Apps []App `json:"apps,omitempty"`
}

// PodSecurity is a Pod Security Admission level and the version it is pinned
// to, so that a cluster upgrade does not silently tighten or loosen it.
type PodSecurity struct {
	// level is the Pod Security Standards level.
	// +optional
	// +default="restricted"
	Level PodSecurityLevel `json:"level,omitempty"`

	// version is the Kubernetes minor version whose standard applies, e.g.
	// v1.37, or latest.
	// +optional
	// +default="v1.37"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self == 'latest' || self.matches('^v1\\\\.[0-9]+$')",message="podSecurity.version must be latest or a minor version such as v1.37"
	Version string `json:"version,omitempty"`
}

// Prices is what a team's requests cost, for an estimate of its monthly
// cost: a month is 730 hours. Each price is a decimal number in currency;
// a price left out counts as nothing.
type Prices struct {
	// currency is the ISO 4217 code the prices are in, e.g. EUR.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=3
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Z]{3}$')",message="currency must be an ISO 4217 code such as EUR"
	Currency string `json:"currency,omitempty"`

	// cpuHour is the price of one CPU requested (requests.cpu) for an hour.
	// +optional
	CPUHour Price `json:"cpuHour,omitempty"`

	// memoryGiBHour is the price of a GiB of memory requested
	// (requests.memory) for an hour.
	// +optional
	MemoryGiBHour Price `json:"memoryGiBHour,omitempty"`

	// storageGiBMonth is the price of a GiB of storage requested
	// (requests.storage) for a month.
	// +optional
	StorageGiBMonth Price `json:"storageGiBMonth,omitempty"`

	// databaseMonth is the price of a team's database (Shared or
	// Dedicated) for a month.
	// +optional
	DatabaseMonth Price `json:"databaseMonth,omitempty"`
}

// Price is a decimal number, such as 0.031.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=20
// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,12}([.][0-9]{1,6})?$')",message="a price is a decimal number such as 0.031"
type Price string

// Quota is a team's ResourceQuota: base plus perMember times the number of
// member entries. Names and signs are checked as the apiserver checks a
// ResourceQuota's spec.hard, so that a bad blueprint is refused when it is
// written rather than when a team's quota is made from it. Signs are read
// from the text: the apiserver's cost estimate takes each value to be as long
// as a whole request, and parsing 32 of them with quantity() is over its
// budget. For the same reason a fraction of a count (pods: 1.5) is left to
// the apiserver, and the blueprint's Ready condition reports it.
type Quota struct {
	// base is what every team gets, e.g. {requests.cpu: "2", pods: "20"}.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (k.contains('/') || k.startsWith('hugepages-') || k.startsWith('requests.hugepages-') || k in ['cpu', 'memory', 'ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.storage', 'requests.ephemeral-storage', 'limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'configmaps', 'persistentvolumeclaims', 'services.nodeports', 'services.loadbalancers']))",message="quota.base names must be resources a ResourceQuota accepts: cpu, memory, ephemeral-storage, requests.* and limits.* of these, requests.storage, pods, services, secrets, configmaps, persistentvolumeclaims, replicationcontrollers, resourcequotas, services.nodeports, services.loadbalancers, hugepages-<size>, requests.hugepages-<size>, or a qualified name with '/' such as count/deployments.apps or requests.nvidia.com/gpu"
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == int ? self[k] >= 0 : !self[k].startsWith('-'))",message="quota.base values must be non-negative quantities such as 2, 500m or 4Gi"
	Base corev1.ResourceList `json:"base,omitempty"`

	// perMember is added once for every member entry of the team.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (k.contains('/') || k.startsWith('hugepages-') || k.startsWith('requests.hugepages-') || k in ['cpu', 'memory', 'ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.storage', 'requests.ephemeral-storage', 'limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'pods', 'services', 'replicationcontrollers', 'resourcequotas', 'secrets', 'configmaps', 'persistentvolumeclaims', 'services.nodeports', 'services.loadbalancers']))",message="quota.perMember names must be resources a ResourceQuota accepts: cpu, memory, ephemeral-storage, requests.* and limits.* of these, requests.storage, pods, services, secrets, configmaps, persistentvolumeclaims, replicationcontrollers, resourcequotas, services.nodeports, services.loadbalancers, hugepages-<size>, requests.hugepages-<size>, or a qualified name with '/' such as count/deployments.apps or requests.nvidia.com/gpu"
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == int ? self[k] >= 0 : !self[k].startsWith('-'))",message="quota.perMember values must be non-negative quantities such as 2, 500m or 4Gi"
	PerMember corev1.ResourceList `json:"perMember,omitempty"`
}

// ContainerLimits are LimitRange values for every container in a team
// namespace. They are checked as the apiserver checks a Container item of a
// LimitRange, so that a bad blueprint is refused when it is written rather
// than when a team's LimitRange is made from it; negative values too, which
// the apiserver takes but which make every container in the namespace
// invalid. An int-or-string value that is an int becomes a quantity by
// quantity('0').add(v): string(v) would cost as much as parsing again.
// +kubebuilder:validation:XValidation:rule="!has(self.defaultRequest) || !has(self.default) || self.defaultRequest.all(k, !(k in self.default) || !(type(self.defaultRequest[k]) == int ? quantity('0').add(self.defaultRequest[k]) : quantity(self.defaultRequest[k])).isGreaterThan((type(self.default[k]) == int ? quantity('0').add(self.default[k]) : quantity(self.default[k]))))",message="limits.defaultRequest must not be greater than limits.default for the same resource"
// +kubebuilder:validation:XValidation:rule="!has(self.default) || !has(self.max) || self.default.all(k, !(k in self.max) || !(type(self.default[k]) == int ? quantity('0').add(self.default[k]) : quantity(self.default[k])).isGreaterThan((type(self.max[k]) == int ? quantity('0').add(self.max[k]) : quantity(self.max[k]))))",message="limits.default must not be greater than limits.max for the same resource"
// +kubebuilder:validation:XValidation:rule="!has(self.defaultRequest) || !has(self.max) || self.defaultRequest.all(k, !(k in self.max) || !(type(self.defaultRequest[k]) == int ? quantity('0').add(self.defaultRequest[k]) : quantity(self.defaultRequest[k])).isGreaterThan((type(self.max[k]) == int ? quantity('0').add(self.max[k]) : quantity(self.max[k]))))",message="limits.defaultRequest must not be greater than limits.max for the same resource"
// +kubebuilder:validation:XValidation:rule="!has(self.defaultRequest) || !has(self.default) || self.defaultRequest.all(k, !(k in self.default) || (!k.startsWith('hugepages-') && (!k.contains('/') || k.contains('kubernetes.io/'))) || (type(self.defaultRequest[k]) == int ? quantity('0').add(self.defaultRequest[k]) : quantity(self.defaultRequest[k])).compareTo((type(self.default[k]) == int ? quantity('0').add(self.default[k]) : quantity(self.default[k]))) == 0)",message="limits.defaultRequest and limits.default must be equal for hugepages-<size> and extended resources such as nvidia.com/gpu, which cannot be overcommitted"
type ContainerLimits struct {
	// defaultRequest is the request of a container that sets none.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (k in ['cpu', 'memory', 'ephemeral-storage'] || k.startsWith('hugepages-') || k.contains('kubernetes.io/') || (k.contains('/') && !k.startsWith('requests.'))))",message="limits.defaultRequest names must be container resources: cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with '/' such as nvidia.com/gpu"
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == int ? self[k] >= 0 : !self[k].startsWith('-'))",message="limits.defaultRequest values must be non-negative quantities such as 2, 500m or 4Gi"
	DefaultRequest corev1.ResourceList `json:"defaultRequest,omitempty"`

	// default is the limit of a container that sets none.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (k in ['cpu', 'memory', 'ephemeral-storage'] || k.startsWith('hugepages-') || k.contains('kubernetes.io/') || (k.contains('/') && !k.startsWith('requests.'))))",message="limits.default names must be container resources: cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with '/' such as nvidia.com/gpu"
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == int ? self[k] >= 0 : !self[k].startsWith('-'))",message="limits.default values must be non-negative quantities such as 2, 500m or 4Gi"
	Default corev1.ResourceList `json:"default,omitempty"`

	// max is the largest limit a container may set.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$') && (k in ['cpu', 'memory', 'ephemeral-storage'] || k.startsWith('hugepages-') || k.contains('kubernetes.io/') || (k.contains('/') && !k.startsWith('requests.'))))",message="limits.max names must be container resources: cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource with '/' such as nvidia.com/gpu"
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == int ? self[k] >= 0 : !self[k].startsWith('-'))",message="limits.max values must be non-negative quantities such as 2, 500m or 4Gi"
	Max corev1.ResourceList `json:"max,omitempty"`
}

// Network is the traffic a team namespace allows besides traffic within it.
type Network struct {
	// ingressNamespaceSelector selects the namespaces (the ingress
	// controller's) that may send traffic into the team namespace. It must
	// select by at least one label: an empty selector would let every
	// namespace in, every other team's included.
	// +optional
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="ingressNamespaceSelector must select by at least one label (matchLabels or matchExpressions): an empty selector lets every namespace in, every other team's included"
	IngressNamespaceSelector *metav1.LabelSelector `json:"ingressNamespaceSelector,omitempty"`

	// dns selects the cluster DNS pods that team pods may query. When
	// omitted: pods labelled k8s-app=kube-dns in kube-system.
	// +optional
	DNS *PeerSelector `json:"dns,omitempty"`
}

// PeerSelector selects pods in namespaces for a NetworkPolicy peer.
type PeerSelector struct {
	// namespaceSelector selects the namespaces. It must select by at least
	// one label: an empty selector would open the team's traffic to every
	// namespace, every other team's included.
	// +required
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="namespaceSelector must select by at least one label (matchLabels or matchExpressions): an empty selector selects every namespace, every other team's included"
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// podSelector selects pods in those namespaces; all pods when omitted.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`
}

// BlueprintDatabase is how teams get their database.
// +kubebuilder:validation:XValidation:rule="self.class == 'Shared' ? has(self.shared) : !has(self.shared)",message="shared is required when class is Shared and not allowed otherwise"
// +kubebuilder:validation:XValidation:rule="self.class == 'Dedicated' || !has(self.dedicated)",message="dedicated is only allowed when class is Dedicated"
type BlueprintDatabase struct {
	// class is Shared (a database on an existing PostgreSQL server), Dedicated
	// (a PostgreSQL StatefulSet in the team namespace) or None.
	// +optional
	// +default="None"
	Class DatabaseClass `json:"class,omitempty"`

	// reclaimPolicy says what happens to a team's database when the team is
	// deleted: Retain keeps it, Delete drops it.
	// +optional
	// +default="Retain"
	ReclaimPolicy ReclaimPolicy `json:"reclaimPolicy,omitempty"`

	// shared configures the Shared class.
	// +optional
	Shared SharedDatabase `json:"shared,omitzero"`

	// dedicated configures the Dedicated class.
	// +optional
	Dedicated *DedicatedDatabase `json:"dedicated,omitempty"`

	// passwordRotation has each team's database password made anew on a
	// schedule, beside the rotation that follows a member leaving. Off when
	// omitted.
	// +optional
	PasswordRotation *PasswordRotation `json:"passwordRotation,omitempty"`
}

// PasswordRotation is how often teams' database passwords are made anew.
type PasswordRotation struct {
	// everyDays is the number of days between rotations, at least 1: 90 is a
	// common choice. Each rotation restarts the team's apps that use the
	// database.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3650
	EveryDays int32 `json:"everyDays,omitempty"`
}

// SharedDatabase is an existing PostgreSQL server that teams share.
type SharedDatabase struct {
	// adminSecretName names a Secret in the operator's own namespace with the
	// admin connection: host, port, user, password and sslmode. Only the
	// operator's namespace is read, so a blueprint cannot make the operator
	// read Secrets elsewhere.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="adminSecretName must be a valid Secret name"
	AdminSecretName string `json:"adminSecretName,omitempty"`

	// egress is where team pods may reach the server. When omitted, no
	// egress to the server is opened beyond what the team's other policies
	// allow, so the blueprint's Shared teams get their database but are not
	// Ready (DatabaseReady=False, reason NoDatabaseEgress). On a cluster
	// that does not enforce NetworkPolicies, set it all the same.
	// +optional
	Egress *DatabaseEgress `json:"egress,omitempty"`
}

// DatabaseEgress is where a shared database server can be reached: either an
// IP range or pods selected by label.
// +kubebuilder:validation:XValidation:rule="has(self.cidr) != has(self.peer)",message="set exactly one of cidr and peer"
type DatabaseEgress struct {
	// cidr is the server's address range, e.g. 10.0.12.5/32.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be an IP range such as 10.0.12.5/32"
	CIDR string `json:"cidr,omitempty"`

	// peer selects the server's pods when it runs in this cluster.
	// +optional
	Peer *PeerSelector `json:"peer,omitempty"`
}

// DedicatedDatabase is a PostgreSQL server of the team's own.
type DedicatedDatabase struct {
	// image is the PostgreSQL container image.
	// +optional
	// +default="postgres:17"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// storageSize is the size of the data volume.
	// +optional
	// +default="1Gi"
	StorageSize *resource.Quantity `json:"storageSize,omitempty"`

	// storageClassName is the StorageClass of the data volume; the cluster's
	// default when omitted.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	StorageClassName string `json:"storageClassName,omitempty"`

	// resources are the database container's requests and limits.
	// +optional
	Resources *Resources `json:"resources,omitempty"`
}

// Ingress gives every app a host name under a domain.
type Ingress struct {
	// domain is the parent domain of app host names, e.g. care.example.org.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=190
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$')",message="domain must be a DNS name such as care.example.org"
	Domain string `json:"domain,omitempty"`

	// className is the IngressClass to use; the cluster's default when
	// omitted.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClassName string `json:"className,omitempty"`
}

// TeamBlueprintStatus is what the operator observed of a blueprint.
// +kubebuilder:validation:MinProperties=1
type TeamBlueprintStatus struct {
	// conditions are Ready and whatever else the operator reports.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation last reconciled.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// teamCount is the number of teams that use this blueprint.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TeamCount int32 `json:"teamCount,omitempty"`
}

// TeamBlueprint is what every team that uses it gets: member limit, quota,
// limits, pod security, network rules, database class, standard apps and
// allowed registries. Regional IT writes it; a Helm install makes "default".
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=tb;blueprint;blueprints,categories=buurt
// +kubebuilder:metadata:annotations="helm.sh/resource-policy=keep"
// +kubebuilder:metadata:annotations="argocd.argoproj.io/sync-options=Delete=false,Prune=false"
// +kubebuilder:metadata:annotations="kustomize.toolkit.fluxcd.io/prune=disabled"
// +kubebuilder:metadata:labels="teams.buurt.dev/on-uninstall=keep"
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="MaxMembers",type=integer,JSONPath=`.spec.maxMembers`
// +kubebuilder:printcolumn:name="Database",type=string,JSONPath=`.spec.database.class`
// +kubebuilder:printcolumn:name="Teams",type=integer,JSONPath=`.status.teamCount`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.allowedRegistries) || !has(self.spec.apps) || self.spec.apps.all(a, self.spec.allowedRegistries.exists(r, a.image.startsWith(r)))",message="every app image must start with one of allowedRegistries"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.allowedRegistries) || self.spec.database.class != 'Dedicated' || (has(self.spec.database.dedicated) && has(self.spec.database.dedicated.image) && self.spec.allowedRegistries.exists(r, self.spec.database.dedicated.image.startsWith(r)))",message="database.dedicated.image must start with one of allowedRegistries: the tenant image policy holds buurt's own database to them too, and the default postgres:17 is under none of them"
type TeamBlueprint struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is what teams that use this blueprint get; every field has a
	// default, so an empty spec is a complete blueprint.
	// +optional
	// +default={}
	Spec TeamBlueprintSpec `json:"spec,omitzero"`

	// status is what the operator observed.
	// +optional
	Status TeamBlueprintStatus `json:"status,omitempty,omitzero"`
}

// AllowsMembers says whether a team of n member entries fits the blueprint.
// Whatever judges a team's size asks it, so that the admission webhook and
// the status never disagree about a team of exactly maxMembers.
func (b *TeamBlueprint) AllowsMembers(n int) bool {
	return n <= int(b.Spec.MaxMembers)
}

// TeamBlueprintList is a list of TeamBlueprints.
//
// +kubebuilder:object:root=true
type TeamBlueprintList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []TeamBlueprint `json:"items"`
}
