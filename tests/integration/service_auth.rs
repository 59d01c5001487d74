//! Tests for service_auth.
