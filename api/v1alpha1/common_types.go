package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// SubjectKind says whether a subject is one user or a group of users.
// +kubebuilder:validation:Enum=User;Group
type SubjectKind string

const (
	// SubjectKindUser is a single user as the cluster's authenticator names them.
	SubjectKindUser SubjectKind = "User"
	// SubjectKindGroup is a group as the cluster's authenticator names it.
	SubjectKindGroup SubjectKind = "Group"
)

// Subject is a user or a group, named exactly as the cluster's authentication
// reports them (an e-mail address, an OIDC group).
// +kubebuilder:validation:XValidation:rule="!self.name.startsWith('system:')",message="name must not start with 'system:': system users and groups such as system:authenticated would give the whole cluster access"
type Subject struct {
	// kind is User for one person or Group for a group of people.
	// +required
	Kind SubjectKind `json:"kind,omitempty"`

	// name is the user or group name as authentication reports it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name,omitempty"`
}

// DatabaseClass is where a team's database lives.
// +kubebuilder:validation:Enum=Shared;Dedicated;None
type DatabaseClass string

const (
	// DatabaseClassShared is a database and role on an existing PostgreSQL
	// server that many teams share.
	DatabaseClassShared DatabaseClass = "Shared"
	// DatabaseClassDedicated is a PostgreSQL StatefulSet in the team's own
	// namespace.
	DatabaseClassDedicated DatabaseClass = "Dedicated"
	// DatabaseClassNone means the team gets no database.
	DatabaseClassNone DatabaseClass = "None"
)

// ReclaimPolicy says what happens to a team's data when the team is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type ReclaimPolicy string

const (
	// ReclaimPolicyRetain keeps the database when its team is deleted.
	ReclaimPolicyRetain ReclaimPolicy = "Retain"
	// ReclaimPolicyDelete drops the database when its team is deleted.
	ReclaimPolicyDelete ReclaimPolicy = "Delete"
)

// App is a program that runs in a team's namespace: a Deployment and a Service,
// and an Ingress when the blueprint names a domain.
// +kubebuilder:validation:XValidation:rule="!has(self.env) || !has(self.database) || !self.database || self.env.all(e, e.name != 'DATABASE_URL' && !e.name.startsWith('PG'))",message="env must not set DATABASE_URL or PG* variables when database is true: buurt injects them from the team's database Secret"
type App struct {
	// name is the app's name, used for its Deployment, Service and host name.
	// It must be a DNS label that starts with a letter (a Service name). Names
	// starting with buurt- are reserved for what buurt itself runs in the
	// namespace, such as a Dedicated database.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=50
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="app name must be a lowercase DNS label starting with a letter (a-z, 0-9 and '-')"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('buurt-')",message="app names starting with buurt- are reserved for what buurt runs in the team namespace"
	Name string `json:"name,omitempty"`

	// image is the container image, including its registry, e.g.
	// registry.example.org/care/planner:1.4.2.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.matches('[[:space:]]')",message="image must not contain white space"
	Image string `json:"image,omitempty"`

	// port is the TCP port the app listens on.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// replicas is how many copies of the app run while the team is awake;
	// buurt keeps the app at it. Leave it out to scale the app by hand
	// (kubectl scale) or with an autoscaler: the app starts with 1, and
	// buurt then leaves its replicas alone, but for sleep, which records
	// them and brings them back as they were.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=20
	Replicas *int32 `json:"replicas,omitempty"`

	// env lists plain environment variables for the app. Secrets do not belong
	// here; the database connection is injected by reference when database is
	// true.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Env []EnvVar `json:"env,omitempty"`

	// resources are the app container's requests and limits. When omitted the
	// team's LimitRange defaults apply.
	// +optional
	Resources *Resources `json:"resources,omitempty"`

	// database is true to inject the team's database connection (DATABASE_URL
	// and the PG* variables) from the team's database Secret, by reference.
	// +optional
	Database *bool `json:"database,omitempty"`

	// probePath is an HTTP path that answers 200 when the app is ready and
	// alive. When omitted, a TCP check on port is used.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="probePath must start with '/'"
	ProbePath string `json:"probePath,omitempty"`
}

// EnvVar is one plain environment variable.
type EnvVar struct {
	// name is the variable's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z_][A-Za-z0-9_]*$')",message="env name must be letters, digits and '_', not starting with a digit"
	Name string `json:"name,omitempty"`

	// value is the variable's value; omit it for an empty value.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value,omitempty"`
}

// Resources are a container's requests and limits.
type Resources struct {
	// requests is what the container is guaranteed, e.g. {cpu: 100m, memory: 128Mi}.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	Requests corev1.ResourceList `json:"requests,omitempty"`

	// limits is the most the container may use, e.g. {cpu: 500m, memory: 512Mi}.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	Limits corev1.ResourceList `json:"limits,omitempty"`
}
