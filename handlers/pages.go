package handlers

import "github.com/gofiber/fiber/v2"

// home is the applicants' front page with the live system's navigation.
func (s *Server) home(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, "public/home", layoutPublic, Page{Title: "首页", Nav: "home"})
}
