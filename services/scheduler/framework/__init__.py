"""The scheduling framework: Filter and Score plugins run by one runtime, as upstream's
pkg/scheduler/framework. Plugins are small, one per file, in `plugins/`."""
