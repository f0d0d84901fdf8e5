package handlers

// qaRoutes are the console routes of the QA queue and the four-eyes second approval.
func (s *Server) qaRoutes() []route {
	return nil
}
