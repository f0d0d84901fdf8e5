package handlers_test

import "testing"

// dashboardMatrix are the role × route rows of the dashboard pages (TestRoleRouteMatrix).
func dashboardMatrix(t *testing.T, s *testServer, number string) []matrixRow {
	return nil
}
