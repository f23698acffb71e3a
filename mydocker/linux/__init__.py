"""Thin ctypes wrappers for the syscalls `os` lacks. Each failure raises OSError(errno, msg, path)."""
