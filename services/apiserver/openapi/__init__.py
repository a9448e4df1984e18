"""openapi package."""
