package handlers

// adminRoutes are the console routes of staff, role grants and the reason catalog.
func (s *Server) adminRoutes() []route {
	return nil
}
