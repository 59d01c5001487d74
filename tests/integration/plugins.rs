//! Tests for plugins.
