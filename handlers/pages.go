package handlers

import "github.com/gofiber/fiber/v2"

// home is the applicants' front page with the live system's navigation.
func (s *Server) home(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, "public/home", layoutPublic, Page{Title: "首页", Nav: "home"})
}

// consoleLoginPage is the staff sign-in form.
func (s *Server) consoleLoginPage(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, "console/login", layoutConsole, Page{Title: "审核台登录"})
}
