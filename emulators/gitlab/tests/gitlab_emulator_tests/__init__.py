"""GitLab emulator tests: a package with its own name, so they share a pytest session with
the other emulators' tests without module-name clashes."""
