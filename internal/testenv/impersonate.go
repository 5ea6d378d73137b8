package testenv

import (
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ConfigAs is a copy of cfg, an admin's configuration, that impersonates
// user, authenticated, in groups.
func ConfigAs(cfg *rest.Config, user string, groups ...string) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append([]string{"system:authenticated"}, groups...)}
	return cfg
}

// ClientAs is a client of cfg, an admin's configuration, that acts as user,
// authenticated, in groups, and so has only what RBAC grants them.
func ClientAs(cfg *rest.Config, user string, groups ...string) (client.Client, error) {
	return client.New(ConfigAs(cfg, user, groups...), client.Options{Scheme: Scheme})
}
