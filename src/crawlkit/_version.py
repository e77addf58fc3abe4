"""The version of crawlkit, in one place (the package, the User-Agent and --version read it)."""

__version__ = "0.1.0"
