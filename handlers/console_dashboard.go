package handlers

// dashboardRoutes are the console routes of the supervisors' dashboard.
func (s *Server) dashboardRoutes() []route {
	return nil
}
