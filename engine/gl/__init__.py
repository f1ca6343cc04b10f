"""OpenGL through moderngl: contexts (window or headless EGL), shader programs, compositing."""
