package handlers

// auditRoutes are the console routes of the audit log page, its CSV export and the chain check.
func (s *Server) auditRoutes() []route {
	return nil
}
