//! Tests for sso.
