package database

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// maintenanceDatabases are the databases every PostgreSQL server has and
// any role may connect to unless the server's admin revoked it from PUBLIC.
// buurt does not own them and does not change them; it reports them.
var maintenanceDatabases = []string{"postgres", "template1"}

// PublicCanConnect names the server's maintenance databases on which PUBLIC
// (every role, so every team's) has CONNECT, in order of name. It only
// reads: a database's ACL (datacl), where NULL means the default, which
// grants PUBLIC CONNECT and TEMPORARY; grantee 0 is PUBLIC.
func (s *SharedServer) PublicCanConnect(ctx context.Context) ([]string, error) {
	var names []string
	err := s.breaker.do(ctx, statementTimeout, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, "SELECT d.datname FROM pg_database d WHERE d.datname = ANY($1) AND EXISTS ("+
			"SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "+
			"WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT') ORDER BY d.datname", maintenanceDatabases)
		if err != nil {
			return err
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("failed to read who may connect to the maintenance databases: %w", err)
	}
	return names, nil
}
