//! Tests for api.
