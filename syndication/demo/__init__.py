"""A small, invented sample archive for `syndication run --demo` (see archive.load_demo)."""

from syndication.demo.archive import demo_channels, demo_stories, load_demo

__all__ = ["demo_channels", "demo_stories", "load_demo"]
